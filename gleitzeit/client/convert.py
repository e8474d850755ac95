"""From what Temporal and the workflows report to the client's public models.

``execution_from_dag`` / ``execution_from_batch`` build a ``WorkflowExecution``; ``status_from_temporal``
maps Temporal's execution status; ``events_from_history`` turns a run's history (plus the skips only the
progress query knows) into ``LogEvent``s.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.api.history.v1 import HistoryEvent
from temporalio.client import WorkflowExecutionStatus

from gleitzeit.contracts.batch import BatchResult
from gleitzeit.contracts.dag import DagResult, TaskProgress, WorkflowProgress
from gleitzeit.contracts.tasks import has_deferred
from gleitzeit.core.models import LogEvent, TaskResult, TaskStatus, WorkflowExecution, WorkflowStatus

__all__ = [
    "events_from_history",
    "execution_from_batch",
    "execution_from_dag",
    "load_offloaded_result",
    "status_from_temporal",
    "task_result",
]

_STATUS = {
    WorkflowExecutionStatus.RUNNING: WorkflowStatus.RUNNING,
    WorkflowExecutionStatus.COMPLETED: WorkflowStatus.COMPLETED,
    WorkflowExecutionStatus.FAILED: WorkflowStatus.FAILED,
    WorkflowExecutionStatus.CANCELED: WorkflowStatus.CANCELLED,
    WorkflowExecutionStatus.TERMINATED: WorkflowStatus.TERMINATED,
    WorkflowExecutionStatus.TIMED_OUT: WorkflowStatus.TIMED_OUT,
    WorkflowExecutionStatus.CONTINUED_AS_NEW: WorkflowStatus.CONTINUED_AS_NEW,
}
_TASK_STATUS = {
    "pending": TaskStatus.PENDING,
    "running": TaskStatus.RUNNING,
    "waiting": TaskStatus.WAITING,
    "completed": TaskStatus.COMPLETED,
    "failed": TaskStatus.FAILED,
    "skipped": TaskStatus.SKIPPED,
    "cancelled": TaskStatus.CANCELLED,
}


def status_from_temporal(status: WorkflowExecutionStatus | None) -> WorkflowStatus:
    return _STATUS.get(status, WorkflowStatus.RUNNING) if status is not None else WorkflowStatus.RUNNING


def task_result(progress: TaskProgress, result: Any = None) -> TaskResult:
    state = _TASK_STATUS.get(progress.state, TaskStatus.PENDING)
    attempts = progress.attempts or (1 if state in (TaskStatus.COMPLETED, TaskStatus.FAILED) else 0)
    return TaskResult(
        task_id=progress.task_id,
        status=state,
        result=result,
        error=progress.error or (progress.reason if state != TaskStatus.COMPLETED else None),
        attempts=attempts,
        started_at=progress.started_at,
        completed_at=progress.ended_at,
        origin=progress.origin,
        prompt=progress.prompt,
        until=progress.until,
    )


def execution_from_dag(
    result: DagResult,
    *,
    run_id: str | None = None,
    web_url: str | None = None,
    data_dir: Path | None = None,
) -> WorkflowExecution:
    """The run's execution; with ``data_dir``, offloaded results (and outputs referring to them) are
    loaded from their blobs there (NotFoundError naming the task and the path when one is missing)."""
    if data_dir is not None:
        result = load_offloaded_result(result, data_dir)
    by_id = {t.task_id: t for t in result.tasks}
    results: dict[str, TaskResult] = {}
    for task_id, progress in by_id.items():
        results[task_id] = task_result(progress, result.results.get(task_id))
    for task_id, value in result.results.items():  # results without progress (never expected)
        results.setdefault(task_id, TaskResult(task_id=task_id, result=value, attempts=1))
    starts = [t.started_at for t in result.tasks if t.started_at]
    ends = [t.ended_at for t in result.tasks if t.ended_at]
    return WorkflowExecution(
        workflow_id=result.workflow_id,
        run_id=run_id,
        name=result.name,
        status=WorkflowStatus.PARTIAL if result.status == "partial" else WorkflowStatus.COMPLETED,
        results=results,
        outputs=result.outputs,
        started_at=min(starts) if starts else None,
        completed_at=max(ends) if ends else None,
        web_url=web_url,
        warnings=result.warnings,
    )


def load_offloaded_result(result: DagResult, data_dir: Path) -> DagResult:
    """``result`` with the task results offloaded to ``<data_dir>/results`` loaded (docs/results.md)."""
    offloaded = any(has_deferred(v) for v in result.results.values())
    if not offloaded and not has_deferred(result.outputs):
        return result
    # Only here: the store and the resolver import the dsl.
    from gleitzeit.activities.offload import ResultStore, load_offloaded, resolve_deferred

    store = ResultStore(data_dir)
    return result.model_copy(
        update={
            "results": load_offloaded(result.results, store),
            "outputs": resolve_deferred(result.outputs, store),
        }
    )


def execution_from_batch(
    result: BatchResult, *, run_id: str | None = None, web_url: str | None = None
) -> WorkflowExecution:
    results = {
        name: TaskResult(task_id=name, result=value, attempts=1) for name, value in result.results.items()
    }
    for name, error in result.errors.items():
        results[name] = TaskResult(task_id=name, status=TaskStatus.FAILED, error=error)
    details = result.model_dump(mode="json", exclude={"results", "errors", "warnings", "workflow_id", "name"})
    return WorkflowExecution(
        workflow_id=result.workflow_id,
        run_id=run_id,
        name=result.name,
        status=WorkflowStatus.PARTIAL if result.status == "partial" else WorkflowStatus.COMPLETED,
        results=results,
        web_url=web_url,
        kind="batch",
        details=details,
        warnings=result.warnings,
    )


def _time(event: HistoryEvent) -> datetime | None:
    if not event.HasField("event_time"):
        return None
    return event.event_time.ToDatetime(tzinfo=UTC)


def _failure_message(failure: Any) -> str | None:
    """The failure's message with its innermost cause (an activity failure wraps the real error)."""
    if failure is None or not failure.message:
        return None
    message = failure.message
    inner = failure
    while inner.HasField("cause"):
        inner = inner.cause
    if inner is not failure and inner.message and inner.message not in message:
        message = f"{message}: {inner.message}"
    return message


def events_from_history(
    history: Iterable[HistoryEvent], progress: WorkflowProgress | None = None, limit: int | None = None
) -> list[LogEvent]:
    """Log events of one run, oldest first; at most the last ``limit`` when given."""
    activity_of: dict[int, str] = {}
    events: list[LogEvent] = []

    def add(kind: str, event: HistoryEvent, task_id: str | None = None, **kw: Any) -> None:
        events.append(LogEvent(time=_time(event), event=kind, task_id=task_id, **kw))

    for event in history:
        et = event.event_type
        if et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            attrs = event.workflow_execution_started_event_attributes
            add("workflow_started", event, message=attrs.workflow_type.name)
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
            attrs_s = event.activity_task_scheduled_event_attributes
            activity_of[event.event_id] = attrs_s.activity_id
            add("task_scheduled", event, attrs_s.activity_id, message=attrs_s.activity_type.name)
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED:
            attrs_t = event.activity_task_started_event_attributes
            last = _failure_message(attrs_t.last_failure) if attrs_t.HasField("last_failure") else None
            add(
                "task_started",
                event,
                activity_of.get(attrs_t.scheduled_event_id),
                attempt=attrs_t.attempt,
                message=f"earlier attempt failed: {last}" if last else None,
            )
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
            attrs_c = event.activity_task_completed_event_attributes
            add("task_completed", event, activity_of.get(attrs_c.scheduled_event_id))
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_FAILED:
            attrs_f = event.activity_task_failed_event_attributes
            add(
                "task_failed",
                event,
                activity_of.get(attrs_f.scheduled_event_id),
                message=_failure_message(attrs_f.failure),
            )
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_TIMED_OUT:
            attrs_o = event.activity_task_timed_out_event_attributes
            add(
                "task_timed_out",
                event,
                activity_of.get(attrs_o.scheduled_event_id),
                message=_failure_message(attrs_o.failure),
            )
        elif et == EventType.EVENT_TYPE_ACTIVITY_TASK_CANCELED:
            attrs_x = event.activity_task_canceled_event_attributes
            add("task_cancelled", event, activity_of.get(attrs_x.scheduled_event_id))
        elif et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED:
            add("workflow_completed", event)
        elif et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED:
            add(
                "workflow_failed",
                event,
                message=_failure_message(event.workflow_execution_failed_event_attributes.failure),
            )
        elif et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED:
            add("workflow_cancelled", event)
        elif et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED:
            add(
                "workflow_terminated",
                event,
                message=event.workflow_execution_terminated_event_attributes.reason,
            )
        elif et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT:
            add("workflow_timed_out", event)
        elif et == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CONTINUED_AS_NEW:
            add("workflow_continued", event)
    # Skips never reach the history (no activity ran): take them from the progress query.
    if progress is not None:
        for t in progress.tasks:
            if t.state == "skipped":
                events.append(
                    LogEvent(time=t.ended_at, event="task_skipped", task_id=t.task_id, message=t.reason)
                )
        far = datetime.max.replace(tzinfo=UTC)
        events.sort(key=lambda e: e.time or far)
    if limit is not None and len(events) > limit:
        events = events[-limit:]
    return events
