"""Start a durable batch (``BatchWorkflow``) and wait for it, with errors in Gleitzeit's tree.

``start_batch`` checks what can be checked on the caller's side (``gleitzeit.batch.inputs``: the
method can take a file, the limits; ``base_dir`` becomes the caller's working directory so relative
paths mean what the caller meant even when the worker runs elsewhere), and starts the workflow. ``wait_batch`` returns the
``BatchResult``; a batch whose files fail still *completes* (``failed`` counts them), so what fails
here is the batch itself: a directory that does not exist (``ValidationError``), a cancellation or
termination (``WorkflowExecutionError`` and subclasses).
"""

from __future__ import annotations

from typing import Any

from temporalio.client import Client, WorkflowFailureError, WorkflowHandle
from temporalio.common import SearchAttributePair, TypedSearchAttributes
from temporalio.exceptions import ApplicationError

from gleitzeit.batch.inputs import check_batch_input
from gleitzeit.batch.workflow import BatchWorkflow
from gleitzeit.client.failures import translate_workflow_failure
from gleitzeit.client.starter import (
    PIPELINE_ATTRIBUTE,
    RESUMED_FROM_ATTRIBUTE,
    new_workflow_id,
    registered_search_attributes,
)
from gleitzeit.config import Settings
from gleitzeit.contracts.batch import BatchInput, BatchResult
from gleitzeit.core.errors import GleitzeitError, PermissionDeniedError, Problem, ValidationError

__all__ = ["start_batch", "translate_batch_failure", "wait_batch"]


async def start_batch(
    client: Client,
    inp: BatchInput,
    settings: Settings,
    *,
    workflow_id: str | None = None,
    task_queue: str | None = None,
    resumed_from: str | None = None,
) -> WorkflowHandle[Any, BatchResult]:
    """Start ``BatchWorkflow`` for ``inp``; returns its handle (``wait_batch`` for the result).
    ``resumed_from`` names the batch run this one resumes (memo, summary; see docs/resume.md)."""
    inp = check_batch_input(inp)
    wid = workflow_id or new_workflow_id(inp.name or "batch")
    attributes = await registered_search_attributes(client, settings.namespace)
    pairs: list[SearchAttributePair[Any]] = []
    if PIPELINE_ATTRIBUTE.name in attributes:
        pairs.append(SearchAttributePair(PIPELINE_ATTRIBUTE, inp.name))
    details = [
        f"**Batch**: {inp.name}",
        f"**Files**: `{inp.directory}` matching `{inp.pattern}`",
        f"**Method**: {inp.method}, at most {inp.max_concurrent} at a time",
    ]
    if inp.output_dir:
        details.append(f"**Output**: `{inp.output_dir}`")
    summary = f"batch {inp.name}: {inp.directory}/{inp.pattern}"
    memo: dict[str, Any] = {}
    if resumed_from:
        details.insert(1, f"**Resumed from**: `{resumed_from}`")
        summary = f"{summary}, resumed from {resumed_from}"
        memo[RESUMED_FROM_ATTRIBUTE.name] = resumed_from
        if RESUMED_FROM_ATTRIBUTE.name in attributes:
            pairs.append(SearchAttributePair(RESUMED_FROM_ATTRIBUTE, resumed_from))
    return await client.start_workflow(
        BatchWorkflow.run,
        inp,
        id=wid,
        task_queue=task_queue or settings.task_queue,
        search_attributes=TypedSearchAttributes(pairs) if pairs else None,
        static_summary=summary[:300],
        static_details="\n\n".join(details),
        memo=memo or None,
    )


async def wait_batch(handle: WorkflowHandle[Any, BatchResult]) -> BatchResult:
    """The batch's result; failures of the batch itself come back as gleitzeit.core.errors exceptions."""
    try:
        return await handle.result()
    except WorkflowFailureError as exc:
        raise translate_batch_failure(exc, handle.id) from None


def translate_batch_failure(exc: WorkflowFailureError, workflow_id: str) -> GleitzeitError:
    cause = exc.cause
    if isinstance(cause, ApplicationError) and cause.type == "BatchInvalid":
        details = cause.details[0] if cause.details and isinstance(cause.details[0], dict) else {}
        return ValidationError(
            problems=[
                Problem(
                    cause.message,
                    key=details.get("key"),
                    hint=details.get("hint"),
                    code=details.get("code") or "invalid",
                )
            ]
        )
    if isinstance(cause, ApplicationError) and cause.type == "BatchForbidden":
        return PermissionDeniedError(cause.message)
    return translate_workflow_failure(exc, workflow_id)
