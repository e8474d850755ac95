"""Translate Temporal's workflow failures into Gleitzeit's exception tree (one place, one boundary)."""

from __future__ import annotations

from typing import Any

from temporalio.client import WorkflowFailureError
from temporalio.exceptions import (
    ApplicationError,
    CancelledError,
    TerminatedError,
)
from temporalio.exceptions import (
    TimeoutError as TemporalTimeoutError,
)

from gleitzeit.core.errors import (
    GleitzeitError,
    TaskExecutionError,
    TimeoutError,
    WorkflowCancelledError,
    WorkflowExecutionError,
)

__all__ = ["translate_workflow_failure"]


def _details(err: ApplicationError) -> dict[str, Any]:
    if err.details and isinstance(err.details[0], dict):
        return err.details[0]
    return {}


def translate_workflow_failure(exc: WorkflowFailureError, workflow_id: str) -> GleitzeitError:
    cause = exc.cause
    if isinstance(cause, ApplicationError):
        details = _details(cause)
        partial = details.get("partial_results") or {}
        tasks = details.get("tasks") or []
        if cause.type == "TaskFailed":
            return TaskExecutionError(
                cause.message,
                task_id=details.get("task_id"),
                attempts=details.get("attempts"),
                cause=details.get("error"),
                cause_type=details.get("error_type"),
                workflow_id=workflow_id,
                partial_results=partial,
                tasks=tasks,
            )
        if cause.type == "WorkflowTimeout":
            return TimeoutError(cause.message, workflow_id=workflow_id, partial_results=partial, tasks=tasks)
        return WorkflowExecutionError(
            f"workflow {workflow_id} failed: {cause.message}",
            workflow_id=workflow_id,
            partial_results=partial,
            tasks=tasks,
        )
    if isinstance(cause, CancelledError):
        return WorkflowCancelledError(f"workflow {workflow_id} was cancelled", workflow_id=workflow_id)
    if isinstance(cause, TerminatedError):
        return WorkflowExecutionError(
            f"workflow {workflow_id} was terminated: {cause}", workflow_id=workflow_id
        )
    if isinstance(cause, TemporalTimeoutError):
        return TimeoutError(f"workflow {workflow_id} timed out", workflow_id=workflow_id)
    return WorkflowExecutionError(f"workflow {workflow_id} failed: {cause or exc}", workflow_id=workflow_id)
