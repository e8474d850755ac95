"""BatchWorkflow: one method over every file matching a glob, durably, for up to 100,000+ files.

The run lists the files once in an activity (``files.list``: the sorted list is stored on disk, the
workflow gets only its size), then walks the list by index: names come in pages (``files.page``), and
each file becomes one ``batch.process_file`` activity that reads the file, runs the method and writes
the result to the output directory itself. At most ``max_concurrent`` are in flight; as one finishes
the next starts (a sliding window, not waves).

History stays bounded: after ``files_per_run`` files, or earlier when Temporal suggests it, the run
stops scheduling, drains what is in flight and continues as new with its counters in
``BatchInput.state``. Inline results are capped by count and bytes so that carried state stays far from
the 2 MiB payload limit.

One file's failure (after its retries) is counted and recorded (the first ``MAX_ERRORS``), and the
batch goes on. A crash loses nothing: Temporal re-runs the activities that were in flight, and those
find their result file already written and do not call the model again (``skipped_existing``).

Determinism (see FACTS.md): in-flight handles live in an insertion-ordered dict; every activity gets
a stable id (the file's relative path); no clock, randomness or I/O here.
"""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from gleitzeit.activities.common import HEARTBEAT_INTERVAL
    from gleitzeit.dsl.models import RetrySpec, TaskSpec
    from gleitzeit.workflows.batch_models import (
        BatchFileInput,
        BatchFileResult,
        BatchInput,
        BatchListing,
        BatchListInput,
        BatchPageInput,
        BatchProgress,
        BatchResult,
        BatchState,
    )
    from gleitzeit.workflows.dag import MAX_IN_FLIGHT, _describe_failure
    from gleitzeit.workflows.policies import ActivityOptions, activity_options

__all__ = [
    "MAX_ERRORS",
    "MAX_INLINE_BYTES",
    "PAGE_SIZE",
    "BatchWorkflow",
    "file_activity_id",
]

# File names fetched per files.page call (~50 KB of names; a handful of events per page).
PAGE_SIZE = 500
# Errors kept by file name; beyond this only the count grows (the state crosses continue-as-new).
MAX_ERRORS = 100
MAX_ERROR_CHARS = 500
# Inline results carried in the state and returned: well under the 2 MiB payload limit.
MAX_INLINE_BYTES = 1_000_000
# Temporal's default limit on an id's length is 1,000 characters.
MAX_ACTIVITY_ID = 900

_LIST_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=["FileNotFound", "InvalidParameters", "ValidationError"],
)


def file_activity_id(file: str) -> str:
    """The activity id of a file: its relative path (cut, with a hash, beyond Temporal's id limit)."""
    if len(file) <= MAX_ACTIVITY_ID:
        return file
    digest = hashlib.sha1(file.encode()).hexdigest()[:12]
    return f"{file[: MAX_ACTIVITY_ID - 13]}~{digest}"


@workflow.defn(name="BatchWorkflow")
class BatchWorkflow:
    def __init__(self) -> None:
        self._inp: BatchInput | None = None
        self._state = BatchState()
        self._running: dict[asyncio.Task[Any], str] = {}
        self._status = "running"
        self._options: tuple[RetrySpec, ActivityOptions, dict[str, Any]] | None = None

    # -- queries -----------------------------------------------------------------------------------

    @workflow.query
    def progress(self) -> BatchProgress:
        s = self._state
        return BatchProgress(
            workflow_id=workflow.info().workflow_id,
            name=self._inp.name if self._inp else "",
            total=s.total,
            completed=s.completed,
            failed=s.failed,
            skipped_existing=s.skipped_existing,
            running=len(self._running),
            status=self._status,
            runs=s.runs,
            output_dir=s.results_dir,
        )

    # -- run ---------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: BatchInput) -> BatchResult:
        self._inp = inp
        self._state = inp.state.model_copy(deep=True) if inp.state else BatchState()
        state = self._state
        if state.listing_id is None:
            self._update_details("listing files")
            await self._list(inp)
        window = max(1, min(inp.max_concurrent, MAX_IN_FLIGHT))
        run_start = state.cursor
        names: list[str] = []  # names of files [names_start, names_start + len(names))
        names_start = state.cursor
        self._update_details()

        try:
            while True:
                while (
                    len(self._running) < window
                    and state.cursor < state.total
                    and not self._run_is_full(inp, run_start)
                ):
                    offset = state.cursor - names_start
                    if offset >= len(names):
                        names_start = state.cursor
                        budget = inp.files_per_run - (state.cursor - run_start)
                        names = await self._page(
                            state.cursor, min(PAGE_SIZE, state.total - state.cursor, budget)
                        )
                        offset = 0
                    self._start(inp, state.cursor, names[offset])
                    state.cursor += 1
                if not self._running:
                    break
                done, _ = await workflow.wait(list(self._running), return_when=asyncio.FIRST_COMPLETED)
                for handle in [h for h in self._running if h in done]:
                    self._finish(self._running.pop(handle), handle)
                self._update_details()
        except asyncio.CancelledError:
            await self._cancel_running()
            self._status = "cancelled"
            self._update_details()
            raise

        if state.cursor < state.total:
            # Everything scheduled in this run has finished: the new run starts exactly at the cursor.
            self._update_details("continuing as new")
            workflow.continue_as_new(
                inp.model_copy(update={"state": state.model_copy(update={"runs": state.runs + 1})})
            )

        self._status = "partial" if state.failed else "completed"
        self._update_details()
        return self._result(inp)

    # -- steps -------------------------------------------------------------------------------------

    async def _list(self, inp: BatchInput) -> None:
        try:
            listing: BatchListing = await workflow.execute_activity(
                "files.list",
                BatchListInput(
                    workflow_id=workflow.info().workflow_id,
                    directory=inp.directory,
                    pattern=inp.pattern,
                    base_dir=inp.base_dir,
                    output_dir=inp.output_dir,
                    inline_results_limit=inp.inline_results_limit,
                ),
                activity_id="gleitzeit:list-files",
                summary=f"list {inp.directory}/{inp.pattern}",
                start_to_close_timeout=timedelta(minutes=10),
                heartbeat_timeout=timedelta(seconds=60),
                retry_policy=_LIST_RETRY,
                result_type=BatchListing,
            )
        except ActivityError as exc:
            message, error_type, _ = _describe_failure(exc, 5)
            self._status = "failed"
            self._update_details()
            raise ApplicationError(
                f"batch '{inp.name}': cannot list '{inp.directory}': {message}",
                {"key": "directory", "code": "file-not-found" if error_type == "FileNotFound" else "invalid"},
                type="BatchInvalid" if error_type in ("FileNotFound", "InvalidParameters") else "BatchFailed",
                non_retryable=True,
            ) from None
        s = self._state
        s.listing_id, s.total, s.root = listing.listing_id, listing.total, listing.root
        s.results_dir, s.spill_dir = listing.results_dir, listing.spill_dir

    async def _page(self, start: int, count: int) -> list[str]:
        assert self._state.listing_id is not None
        names: list[str] = await workflow.execute_activity(
            "files.page",
            BatchPageInput(listing_id=self._state.listing_id, start=start, count=count),
            activity_id=f"gleitzeit:page-{start}",
            summary=f"files {start + 1}-{start + count}",
            start_to_close_timeout=timedelta(minutes=2),
            retry_policy=_LIST_RETRY,
            result_type=list[str],
        )
        if len(names) != count:
            # The listing file changed or vanished under us: nothing sensible to schedule.
            raise ApplicationError(
                f"the batch listing {self._state.listing_id} returned {len(names)} names for "
                f"files {start}..{start + count - 1}; it was changed or removed while the batch ran",
                type="BatchFailed",
                non_retryable=True,
            )
        return names

    def _run_is_full(self, inp: BatchInput, run_start: int) -> bool:
        scheduled = self._state.cursor - run_start
        if scheduled >= inp.files_per_run:
            return True
        # At least one file per run, so a run can never continue as new without progress.
        return scheduled > 0 and workflow.info().is_continue_as_new_suggested()

    def _file_options(self, inp: BatchInput) -> tuple[RetrySpec, ActivityOptions, dict[str, Any]]:
        """Retry, activity options and parameters shared by every file (computed once per run)."""
        if self._options is None:
            retry = inp.retry or RetrySpec(max_attempts=inp.max_attempts, base_delay=1.0, max_delay=60.0)
            # The DAG's per-method policy (timeouts, non-retryable error types), as for one task.
            opts = activity_options(
                TaskSpec(
                    id="file", method=inp.method, parameters=inp.parameters, retry=retry, timeout=inp.timeout
                )
            )
            params = inp.parameters
            if opts.script_timeout is not None and "timeout" not in params:
                params = {**params, "timeout": opts.script_timeout}
            self._options = (retry, opts, params)
        return self._options

    def _start(self, inp: BatchInput, index: int, file: str) -> None:
        s = self._state
        assert s.root is not None
        retry, opts, params = self._file_options(inp)
        wf = workflow.info()
        inline = s.total <= inp.inline_results_limit
        handle = workflow.start_activity(
            "batch.process_file",
            BatchFileInput(
                workflow_id=wf.workflow_id,
                run_id=wf.run_id,
                index=index,
                file=file,
                root=s.root,
                method=inp.method,
                parameters=params,
                base_dir=inp.base_dir,
                results_dir=s.results_dir,
                spill_dir=s.spill_dir,
                inline=inline,
                # Each file's share of the inline budget: together they always fit.
                inline_max_bytes=MAX_INLINE_BYTES // max(s.total, 1) if inline else 0,
                timeout=opts.start_to_close.total_seconds(),
                retry=retry,
            ),
            activity_id=file_activity_id(file),
            summary=f"file: {file}"[:200],
            start_to_close_timeout=opts.start_to_close,
            heartbeat_timeout=self._heartbeat(inp, opts.heartbeat),
            retry_policy=opts.retry_policy,
            result_type=BatchFileResult,
        )
        self._running[handle] = file

    @staticmethod
    def _heartbeat(inp: BatchInput, default: timedelta) -> timedelta:
        if inp.heartbeat_timeout is None:
            return default
        # Shorter than two heartbeat intervals and a live, busy activity would be taken for dead.
        return timedelta(seconds=max(inp.heartbeat_timeout, 2 * HEARTBEAT_INTERVAL))

    def _finish(self, file: str, handle: asyncio.Task[Any]) -> None:
        s = self._state
        inp = self._inp
        assert inp is not None
        try:
            result: BatchFileResult = handle.result()
        except ActivityError as exc:
            retry = inp.retry or RetrySpec(max_attempts=inp.max_attempts)
            message, error_type, attempts = _describe_failure(exc, retry.max_attempts)
            s.failed += 1
            if len(s.errors) < MAX_ERRORS:
                text = f"{error_type}: {message}" + (f" (after {attempts} attempts)" if attempts else "")
                s.errors[file] = text[:MAX_ERROR_CHARS]
            return
        s.completed += 1
        if result.status == "skipped_existing":
            s.skipped_existing += 1
        if s.total > inp.inline_results_limit:
            return
        if result.spilled:
            s.spilled += 1  # too large to carry: the activity wrote it to spill_dir instead
            return
        if not result.has_value:
            s.results_truncated = True
            return
        size = result.value_bytes
        if s.inline_bytes + size > MAX_INLINE_BYTES:
            s.results_truncated = True
            return
        s.inline_bytes += size
        s.results[file] = result.value

    async def _cancel_running(self) -> None:
        handles = list(self._running)
        for handle in handles:
            handle.cancel()
        for handle in handles:
            file = self._running.pop(handle)
            try:
                await handle
            except BaseException:  # cancelled or failed while cancelling: not a result either way
                continue
            self._finish(file, handle)

    # -- reporting ---------------------------------------------------------------------------------

    def _result(self, inp: BatchInput) -> BatchResult:
        s = self._state
        warnings: list[str] = []
        if s.total == 0:
            warnings.append(
                f"no file in '{inp.directory}' matches '{inp.pattern}' (the pattern is case-sensitive; "
                "'**/*.txt' searches subfolders too)"
            )
        if s.failed > len(s.errors):
            warnings.append(f"{s.failed} files failed; errors are kept for the first {len(s.errors)}")
        if s.results_dir and not inp.output_dir:
            warnings.append(
                f"{s.total} files are more than inline_results_limit ({inp.inline_results_limit}): "
                f"the results were written to {s.results_dir}"
            )
        elif s.results_truncated and s.results_dir:
            warnings.append(
                f"not every result fits in the batch result (about {MAX_INLINE_BYTES // 1000} kB); "
                f"every file's result is in {s.results_dir}"
            )
        if s.spilled and not s.results_dir:
            warnings.append(f"{s.spilled} results too large to return inline were written to {s.spill_dir}")
        output_dir = s.results_dir or (s.spill_dir if s.spilled else None)
        return BatchResult(
            workflow_id=workflow.info().workflow_id,
            name=inp.name,
            total=s.total,
            completed=s.completed,
            failed=s.failed,
            skipped_existing=s.skipped_existing,
            output_dir=output_dir,
            results=dict(s.results),
            errors=dict(s.errors),
            results_truncated=s.results_truncated,
            runs=s.runs,
            status="partial" if s.failed else "completed",
            warnings=warnings,
        )

    def _update_details(self, note: str | None = None) -> None:
        """Live progress for the web UI's 'current details'."""
        s = self._state
        name = self._inp.name if self._inp else "batch"
        done = s.completed + s.failed
        line = f"{done:,}/{s.total:,} files, {len(self._running)} running, {s.failed:,} failed"
        if s.skipped_existing:
            line += f", {s.skipped_existing:,} already done"
        lines = [f"**{name}**: {note or self._status}", line]
        if s.runs > 1:
            lines.append(f"run {s.runs} (continue-as-new)")
        if s.results_dir:
            lines.append(f"output: `{s.results_dir}`")
        workflow.set_current_details("\n\n".join(lines))
