"""``batch_process``'s ``{file: result}`` map, also for batches whose results did not fit inline.

A small batch carries its results in the workflow result. A large one (or one with big answers)
writes every file's result to ``<output dir>/<file>.json`` (``{"file", "method", "result"}``); this
reads those back so ``batch_process`` returns every file as the seed promises.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gleitzeit.activities.files import LISTING_FOLDER, primary_value
from gleitzeit.core.models import TaskStatus, WorkflowExecution

__all__ = ["BatchResults", "read_batch_results"]


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


def read_batch_results(execution: WorkflowExecution) -> dict[str, Any]:
    """Inline results, completed from ``details['output_dir']`` when the batch wrote them there."""
    results = {name: r.result for name, r in execution.results.items() if r.status == TaskStatus.COMPLETED}
    details = execution.details
    complete = int(details.get("completed") or 0)
    output_dir = details.get("output_dir")
    if len(results) >= complete or not output_dir:
        return results
    root = Path(output_dir)
    for path in sorted(root.rglob("*.json")):
        if LISTING_FOLDER in path.parts:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or "file" not in data:
            continue
        value = data.get("result")
        results.setdefault(
            str(data["file"]),
            primary_value(str(data.get("method") or ""), value) if isinstance(value, dict) else value,
        )
    return results
