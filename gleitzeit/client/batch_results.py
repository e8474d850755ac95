"""``batch_process``'s ``{file: result}`` map (``gleitzeit.batch.results`` reads back the results that
did not fit inline)."""

from __future__ import annotations

from typing import Any

from gleitzeit.core.models import WorkflowExecution

__all__ = ["BatchResults"]


class BatchResults(dict[str, Any]):
    """``{file name: result text}`` (the seed's return value) plus what else the batch reports.

    ``errors`` maps failed files to their error, ``workflow_id`` names the run, ``output_dir`` is
    where per-file results were written (None when they were only returned), ``execution`` is the
    full ``WorkflowExecution``.
    """

    def __init__(
        self,
        results: dict[str, Any],
        *,
        errors: dict[str, str] | None = None,
        execution: WorkflowExecution | None = None,
    ) -> None:
        super().__init__(results)
        self.errors: dict[str, str] = dict(errors or {})
        self.execution = execution
        self.workflow_id = execution.workflow_id if execution else None
        details = execution.details if execution else {}
        self.output_dir: str | None = details.get("output_dir")
        self.failed: int = int(details.get("failed") or len(self.errors))
        self.total: int = int(details.get("total") or len(self) + len(self.errors))
