"""Answering a run's waiting ``human/approval`` task on Temporal: DagWorkflow's ``approve`` update.

The update's validator (gleitzeit.workflows.waits) refuses a wrong answer before anything enters the
history; its reason comes back here as the failure's type and message and becomes Gleitzeit's error:
``NotFoundError`` (no such approval task), ``ConflictError`` (not waiting, already answered, the run
ended), ``ValidationError`` (data against the schema, someone not among the approvers).
"""

from __future__ import annotations

import asyncio
from typing import Any

from temporalio.client import WorkflowHandle, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from gleitzeit.contracts.dag import APPROVE_UPDATE, ApprovalAnswer
from gleitzeit.core.errors import (
    ConflictError,
    GleitzeitError,
    NotFoundError,
    ServiceUnavailableError,
    TemporalUnavailableError,
    ValidationError,
    WorkflowExecutionError,
    WorkflowNotFoundError,
)

__all__ = ["ANSWER_TIMEOUT", "send_approval"]

# An update waits until a worker takes it; without a worker it would wait for ever.
ANSWER_TIMEOUT = 60.0
# The validator's refusal types (gleitzeit.workflows.waits) -> the error a caller gets.
_REFUSALS: dict[str, type[GleitzeitError]] = {
    "NoSuchApproval": NotFoundError,
    "ApprovalNotWaiting": ConflictError,
    "ApprovalRefused": ValidationError,
}


async def send_approval(
    handle: WorkflowHandle[Any, Any], answer: ApprovalAnswer, *, timeout: float = ANSWER_TIMEOUT
) -> dict[str, Any]:
    """Send ``answer``; the task's answer as recorded, or the reason it was refused."""
    workflow_id = handle.id
    try:
        result = await asyncio.wait_for(
            handle.execute_update(APPROVE_UPDATE, answer, result_type=dict), timeout
        )
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in _REFUSALS:
            error = _REFUSALS[cause.type]
            if error is ConflictError:
                raise ConflictError(cause.message, workflow_id=workflow_id) from None
            raise error(cause.message) from None
        raise WorkflowExecutionError(
            f"run '{workflow_id}' did not take the answer: {cause or exc}", workflow_id=workflow_id
        ) from None
    except TimeoutError:
        raise ServiceUnavailableError(
            f"no worker took the answer for run '{workflow_id}' within {timeout:g} s: is a worker "
            "running (`gleitzeit worker`)? It may still be applied when one picks the run up; "
            f"see `gleitzeit result {workflow_id} --no-wait`"
        ) from None
    except RPCError as exc:
        raise await _rpc_refusal(handle, exc) from None
    return dict(result)


async def _rpc_refusal(handle: WorkflowHandle[Any, Any], exc: RPCError) -> GleitzeitError:
    """A run that does not exist, or has ended (Temporal answers NOT_FOUND for both)."""
    workflow_id = handle.id
    if exc.status == RPCStatusCode.NOT_FOUND:
        try:
            description = await handle.describe()
        except RPCError:
            return WorkflowNotFoundError(f"no workflow with id '{workflow_id}' ({exc.message})")
        status = description.status.name.lower() if description.status else "closed"
        return ConflictError(
            f"run '{workflow_id}' is {status}: nothing waits for an answer", workflow_id=workflow_id
        )
    if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
        return TemporalUnavailableError(f"Temporal did not answer about '{workflow_id}': {exc.message}")
    return WorkflowExecutionError(
        f"Temporal refused the answer for '{workflow_id}': {exc.message}", workflow_id=workflow_id
    )
