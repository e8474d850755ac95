"""BatchWorkflow's calls around its files: list them once (``files.list``), fetch their names in pages
(``files.page``), and remove a finished small batch's scratch results (``files.cleanup``).

Workflow code (deterministic): each call has a fixed activity id, so a replay finds it in the history.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from gleitzeit.contracts.batch import (
        BatchCleanupInput,
        BatchInput,
        BatchListing,
        BatchListInput,
        BatchPageInput,
    )
    from gleitzeit.workflows.dag import _describe_failure

__all__ = ["LIST_RETRY", "cleanup", "list_files", "page"]

LIST_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=["FileNotFound", "InvalidParameters", "ValidationError"],
)


async def list_files(inp: BatchInput) -> BatchListing:
    """The batch's listing; a directory that cannot be listed fails the batch (``BatchInvalid`` for
    bad input, which the client turns into a ValidationError)."""
    try:
        listing: BatchListing = await workflow.execute_activity(
            "files.list",
            BatchListInput(
                workflow_id=workflow.info().workflow_id,
                directory=inp.directory,
                pattern=inp.pattern,
                base_dir=inp.base_dir,
                output_dir=inp.output_dir,
                file_roots=inp.file_roots,
                inline_results_limit=inp.inline_results_limit,
            ),
            activity_id="gleitzeit:list-files",
            summary=f"list {inp.directory}/{inp.pattern}",
            start_to_close_timeout=timedelta(minutes=10),
            heartbeat_timeout=timedelta(seconds=60),
            retry_policy=LIST_RETRY,
            result_type=BatchListing,
        )
    except ActivityError as exc:
        message, error_type, _ = _describe_failure(exc, 5)
        if error_type == "PermissionDenied":  # a directory outside the file roots
            raise ApplicationError(
                f"batch '{inp.name}': cannot list '{inp.directory}': {message}",
                {"key": "directory", "code": "outside-file-roots"},
                type="BatchForbidden",
                non_retryable=True,
            ) from None
        raise ApplicationError(
            f"batch '{inp.name}': cannot list '{inp.directory}': {message}",
            {"key": "directory", "code": "file-not-found" if error_type == "FileNotFound" else "invalid"},
            type="BatchInvalid" if error_type in ("FileNotFound", "InvalidParameters") else "BatchFailed",
            non_retryable=True,
        ) from None
    return listing


async def page(listing_id: str, start: int, count: int) -> list[str]:
    """Names of files ``start .. start + count - 1`` of the stored listing."""
    names: list[str] = await workflow.execute_activity(
        "files.page",
        BatchPageInput(listing_id=listing_id, start=start, count=count),
        activity_id=f"gleitzeit:page-{start}",
        summary=f"files {start + 1}-{start + count}",
        start_to_close_timeout=timedelta(minutes=2),
        retry_policy=LIST_RETRY,
        result_type=list[str],
    )
    if len(names) != count:
        # The listing file changed or vanished under us: nothing sensible to schedule.
        raise ApplicationError(
            f"the batch listing {listing_id} returned {len(names)} names for "
            f"files {start}..{start + count - 1}; it was changed or removed while the batch ran",
            type="BatchFailed",
            non_retryable=True,
        )
    return names


async def cleanup(spill_dir: str) -> None:
    """Remove the scratch results: every file's outcome is in the history now."""
    try:
        await workflow.execute_activity(
            "files.cleanup",
            BatchCleanupInput(spill_dir=spill_dir),
            activity_id="gleitzeit:cleanup",
            summary="remove scratch results",
            start_to_close_timeout=timedelta(minutes=5),
            retry_policy=LIST_RETRY,
        )
    except ActivityError as exc:  # leftovers on disk are no reason to fail a finished batch
        workflow.logger.warning("could not remove the scratch results in %s: %s", spill_dir, exc)
