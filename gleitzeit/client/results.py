"""``WorkflowResults``: what ``run_workflow`` returns, ``{task_id: result dict}`` plus the run's facts."""

from __future__ import annotations

from typing import Any

from gleitzeit.core.models import TaskStatus, WorkflowExecution, WorkflowStatus

__all__ = ["WorkflowResults"]


class WorkflowResults(dict[str, Any]):
    """``{task_id: result dict}`` of the tasks that completed (the seed's "dictionary with task results").

    Also: ``outputs`` (the workflow's ``outputs:`` block, resolved), ``workflow_id``, ``status``
    (``completed``, or ``partial`` when tasks with ``on_error: continue`` failed), ``failed`` (task id
    -> error) and ``execution`` (the full ``WorkflowExecution`` with per-task status, attempts, times).
    """

    def __init__(
        self,
        results: dict[str, Any],
        *,
        outputs: dict[str, Any] | None = None,
        workflow_id: str | None = None,
        status: WorkflowStatus = WorkflowStatus.COMPLETED,
        execution: WorkflowExecution | None = None,
    ) -> None:
        super().__init__(results)
        self.outputs: dict[str, Any] = dict(outputs or {})
        self.workflow_id = workflow_id
        self.status = status
        self.execution = execution
        self.failed: dict[str, str] = {}
        if execution is not None:
            self.failed = {
                k: r.error or "failed" for k, r in execution.results.items() if r.status == TaskStatus.FAILED
            }

    @classmethod
    def from_execution(cls, execution: WorkflowExecution) -> WorkflowResults:
        results = {k: r.result for k, r in execution.results.items() if r.status == TaskStatus.COMPLETED}
        return cls(
            results,
            outputs=execution.outputs,
            workflow_id=execution.workflow_id,
            status=execution.status,
            execution=execution,
        )
