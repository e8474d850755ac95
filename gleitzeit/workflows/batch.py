"""BatchWorkflow: one method over every file matching a glob, durably, for up to 100,000+ files.

The run lists the files once in an activity (``files.list``: the sorted list is stored on disk, the
workflow gets only its size), then walks the list by index, fetching names in pages (``files.page``).
Files are processed in chunks: one ``batch.process_files`` activity takes a slice of the list and runs
it with its own concurrency, writing each file's result to disk as soon as it has it. At most
``max_concurrent`` files are in flight in all (a chunk holds as many slots as it runs files at once);
as a chunk finishes the next starts, sized by ``batch_plan``. A file that fails in a chunk with an
error another attempt may fix is retried alone, as a ``batch.process_file`` activity under the batch's
RetryPolicy, its chunk attempt counted; a non-retryable error is recorded at once. Runs started before
chunks existed (``workflow.patched("batch-chunks")`` false) keep one ``batch.process_file`` per file.

History stays bounded: after ``files_per_run`` files, or earlier when Temporal suggests it, the run
stops scheduling, drains what is in flight and continues as new with its counters in
``BatchInput.state``. Inline results are capped by count and bytes so that carried state stays far from
the 2 MiB payload limit.

One file's failure (after its retries) is counted and recorded (the first ``MAX_ERRORS``), and the
batch goes on. A crash loses nothing: Temporal re-runs the activities that were in flight, and those
find the results already written and do not call the model again (``skipped_existing``). A small
batch without an output directory keeps scratch copies for that, removed (``files.cleanup``) at the end.

Determinism (see FACTS.md): in-flight handles live in an insertion-ordered dict; every activity gets
a stable id (a chunk's range of the listing, or a file's relative path); no clock, randomness or I/O.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from gleitzeit.contracts.batch import (
        BatchChunkInput,
        BatchChunkResult,
        BatchCleanupInput,
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
    from gleitzeit.contracts.heartbeat import HEARTBEAT_INTERVAL
    from gleitzeit.contracts.spec import RetrySpec, TaskSpec
    from gleitzeit.workflows.batch_plan import (
        MAX_ACTIVITY_ID,
        MIN_TARGET_SECONDS,
        chunk_activity_id,
        chunk_log_name,
        chunk_summary,
        file_activity_id,
        plan_chunk,
        retry_after_chunk,
        seconds_per_file,
        target_seconds,
    )
    from gleitzeit.workflows.dag import MAX_IN_FLIGHT, _describe_failure
    from gleitzeit.workflows.policies import ActivityOptions, activity_options

__all__ = [
    "CHUNKS_PATCH",
    "TARGET_PATCH",
    "MAX_ACTIVITY_ID",
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
# Runs that started before files were processed in chunks replay their one-activity-per-file history.
CHUNKS_PATCH = "batch-chunks"
# Runs that started while every chunk aimed at MIN_TARGET_SECONDS replay the chunk sizes they recorded.
TARGET_PATCH = "batch-chunk-target"
# A chunk may take as long as its rounds of files each at their limit, plus this.
CHUNK_GRACE = timedelta(minutes=1)

# A cancelled batch is over only when its activities have stopped (as in DagWorkflow): nothing keeps
# calling the model after the batch says it was cancelled.
_CANCEL = workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED

_LIST_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1),
    maximum_interval=timedelta(seconds=30),
    maximum_attempts=5,
    non_retryable_error_types=["FileNotFound", "InvalidParameters", "ValidationError"],
)


class _Summary(Protocol):
    """What a file's success reports to the workflow (``BatchFileResult``, ``BatchFileOutcome``)."""

    @property
    def status(self) -> str: ...
    @property
    def value(self) -> Any: ...
    @property
    def has_value(self) -> bool: ...
    @property
    def value_bytes(self) -> int: ...
    @property
    def spilled(self) -> bool: ...


@dataclass
class _Flight:
    """An activity in flight: a chunk, or one file (``start`` is the listing index of ``files[0]``)."""

    files: list[str]
    start: int
    slots: int  # files it may run at once: its share of max_concurrent
    chunk: bool = False
    prior_attempts: int = 0  # a retried file's attempts in its chunk
    started: datetime | None = None  # when a chunk was scheduled (workflow time)


@workflow.defn(name="BatchWorkflow")
class BatchWorkflow:
    def __init__(self) -> None:
        self._inp: BatchInput | None = None
        self._state = BatchState()
        self._running: dict[asyncio.Task[Any], _Flight] = {}
        # (index, file, prior attempts, its chunk's scratch log): files to run alone
        self._retry: list[tuple[int, str, int, str | None]] = []
        self._status = "running"
        self._chunks = False
        self._target = MIN_TARGET_SECONDS  # the time a chunk aims at (batch_plan.target_seconds)
        self._options: tuple[RetrySpec, ActivityOptions, dict[str, Any]] | None = None
        self._names: list[str] = []  # names of files [self._names_start, ... + len(self._names))
        self._names_start = 0

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
            running=self._in_flight(),
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
        # Decided once per run, before its first command: a run recorded without the marker replays
        # the per-file scheduling it was started with.
        self._chunks = workflow.patched(CHUNKS_PATCH)
        window = max(1, min(inp.max_concurrent, MAX_IN_FLIGHT))
        if self._chunks and workflow.patched(TARGET_PATCH):
            self._target = target_seconds(window)
        if state.listing_id is None:
            self._update_details("listing files")
            await self._list(inp)
        run_start = state.cursor
        self._names_start = state.cursor
        self._update_details()

        try:
            if self._chunks:
                await self._run_chunks(inp, window, run_start)
            else:
                await self._run_per_file(inp, window, run_start)
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

        if self._uses_scratch() and state.total:
            await self._cleanup()
        self._status = "partial" if state.failed else "completed"
        self._update_details()
        return self._result(inp)

    async def _run_chunks(self, inp: BatchInput, window: int, run_start: int) -> None:
        """A sliding window of chunks (and of files retried alone), at most ``window`` files in flight."""
        state = self._state
        run_end = min(state.total, run_start + inp.files_per_run)
        while True:
            while self._in_flight() < window:
                if self._retry:
                    self._start_file(inp, *self._retry.pop(0))
                    continue
                remaining = run_end - state.cursor
                if remaining <= 0 or self._run_is_full(inp, run_start):
                    break
                count, concurrency = plan_chunk(
                    free=window - self._in_flight(),
                    window=window,
                    remaining=remaining,
                    file_seconds=state.file_seconds,
                    in_flight_left=self._in_flight_left(),
                    target=self._target,
                )
                files = await self._take_names(state.cursor, count, run_end)
                self._start_chunk(inp, state.cursor, files, concurrency)
                state.cursor += count
            if not await self._finish_some():
                return

    async def _run_per_file(self, inp: BatchInput, window: int, run_start: int) -> None:
        """Runs started before chunks: one ``batch.process_file`` per file (kept for their replay)."""
        state = self._state
        run_end = min(state.total, run_start + inp.files_per_run)
        while True:
            while (
                len(self._running) < window
                and state.cursor < run_end
                and not self._run_is_full(inp, run_start)
            ):
                [file] = await self._take_names(state.cursor, 1, run_end)
                self._start_file(inp, state.cursor, file, 0, None)
                state.cursor += 1
            if not await self._finish_some():
                return

    async def _finish_some(self) -> bool:
        """Wait for at least one activity in flight and take in what finished; False: none in flight."""
        if not self._running:
            return False
        done, _ = await workflow.wait(list(self._running), return_when=asyncio.FIRST_COMPLETED)
        for handle in [h for h in self._running if h in done]:
            self._finish(self._running.pop(handle), handle)
        self._update_details()
        return True

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

    async def _take_names(self, start: int, count: int, run_end: int) -> list[str]:
        """Names of files ``start .. start + count - 1``, paged in as needed (never beyond ``run_end``)."""
        end = start + count
        while self._names_start + len(self._names) < end:
            page_start = self._names_start + len(self._names)
            self._names.extend(await self._page(page_start, min(PAGE_SIZE, run_end - page_start)))
        offset = start - self._names_start
        names = self._names[offset : offset + count]
        del self._names[: offset + count]
        self._names_start = end
        return names

    def _common(self, inp: BatchInput) -> dict[str, Any]:
        """The fields every file's and chunk's input share (``BatchFileCommon``)."""
        s = self._state
        assert s.root is not None
        retry, opts, params = self._file_options(inp)
        wf = workflow.info()
        inline = s.total <= inp.inline_results_limit
        return {
            "workflow_id": wf.workflow_id,
            "run_id": wf.run_id,
            "root": s.root,
            "method": inp.method,
            "parameters": params,
            "base_dir": inp.base_dir,
            "results_dir": s.results_dir,
            "spill_dir": s.spill_dir,
            "inline": inline,
            # Each file's share of the inline budget: together they always fit.
            "inline_max_bytes": MAX_INLINE_BYTES // max(s.total, 1) if inline else 0,
            "timeout": opts.start_to_close.total_seconds(),
            "retry": retry,
            "scratch": self._uses_scratch(),
        }

    def _uses_scratch(self) -> bool:
        # Chunks of a batch without a results folder keep scratch copies, so a retry skips done files.
        return self._chunks and self._state.results_dir is None and self._state.spill_dir is not None

    def _start_chunk(self, inp: BatchInput, start: int, files: list[str], concurrency: int) -> None:
        _, opts, _ = self._file_options(inp)
        rounds = -(-len(files) // concurrency)
        handle = workflow.start_activity(
            "batch.process_files",
            BatchChunkInput(
                **self._common(inp),
                start=start,
                files=files,
                concurrency=concurrency,
                non_retryable_types=list(opts.retry_policy.non_retryable_error_types or ()),
                file_timeout=opts.start_to_close.total_seconds(),
            ),
            activity_id=chunk_activity_id(start, len(files)),
            summary=chunk_summary(start, files),
            start_to_close_timeout=opts.start_to_close * rounds + CHUNK_GRACE,
            heartbeat_timeout=self._heartbeat(inp, opts.heartbeat),
            # A chunk fails as a whole only when its attempts keep dying (worker crashes, timeouts);
            # each attempt skips the files an earlier one finished.
            retry_policy=opts.retry_policy,
            result_type=BatchChunkResult,
            cancellation_type=_CANCEL,
        )
        self._running[handle] = _Flight(files, start, concurrency, chunk=True, started=workflow.now())

    def _start_file(
        self, inp: BatchInput, index: int, file: str, prior_attempts: int, scratch_log: str | None
    ) -> None:
        """One file in its own activity: per-file runs, or a file retried after its chunk."""
        _, opts, _ = self._file_options(inp)
        policy, delay = opts.retry_policy, timedelta(0)
        if prior_attempts:
            rest = retry_after_chunk(policy, prior_attempts)
            assert rest is not None  # _finish_chunk only retries files that have attempts left
            delay, policy = rest
        arg = BatchFileInput(
            **self._common(inp),
            index=index,
            file=file,
            prior_attempts=prior_attempts,
            scratch_log=scratch_log,
        )
        options: dict[str, Any] = {
            "activity_id": file_activity_id(file),
            "summary": f"file: {file}"[:200],
            "start_to_close_timeout": opts.start_to_close,
            "heartbeat_timeout": self._heartbeat(inp, opts.heartbeat),
            "retry_policy": policy,
            "result_type": BatchFileResult,
            # Runs from before chunks keep what they were recorded with (their replay must not change).
            "cancellation_type": _CANCEL if self._chunks else workflow.ActivityCancellationType.TRY_CANCEL,
        }
        handle: asyncio.Task[Any]
        if delay:

            async def after_backoff() -> BatchFileResult:
                # The backoff Temporal would have waited between the chunk's attempt and this one.
                await workflow.sleep(delay, summary=f"retry {file}"[:200])
                result: BatchFileResult = await workflow.execute_activity(
                    "batch.process_file", arg, **options
                )
                return result

            handle = asyncio.create_task(after_backoff())
        else:
            handle = workflow.start_activity("batch.process_file", arg, **options)
        self._running[handle] = _Flight([file], index, 1, prior_attempts=prior_attempts)

    def _retry_spec(self) -> RetrySpec:
        assert self._inp is not None
        return self._file_options(self._inp)[0]

    def _in_flight_left(self) -> float:
        """About how many files the activities in flight have still to run (all, until measured)."""
        per_file = self._state.file_seconds
        now = workflow.now()
        left = 0.0
        for flight in self._running.values():
            if per_file is None or flight.started is None:
                left += len(flight.files)
            else:
                done = (now - flight.started).total_seconds() / max(per_file, 1e-3) * flight.slots
                left += max(0.0, len(flight.files) - done)
        return left

    def _in_flight(self) -> int:
        return sum(f.slots for f in self._running.values())

    @staticmethod
    def _heartbeat(inp: BatchInput, default: timedelta) -> timedelta:
        if inp.heartbeat_timeout is None:
            return default
        # Shorter than two heartbeat intervals and a live, busy activity would be taken for dead.
        return timedelta(seconds=max(inp.heartbeat_timeout, 2 * HEARTBEAT_INTERVAL))

    def _finish(self, flight: _Flight, handle: asyncio.Task[Any]) -> None:
        if flight.chunk:
            self._finish_chunk(flight, handle)
            return
        file = flight.files[0]
        try:
            result: BatchFileResult = handle.result()
        except ActivityError as exc:
            left = max(1, self._retry_spec().max_attempts - flight.prior_attempts)
            message, error_type, attempts = _describe_failure(exc, left)
            self._record_error(
                file, error_type, message, attempts + flight.prior_attempts if attempts else None
            )
            return
        self._record_result(file, result)

    def _finish_chunk(self, flight: _Flight, handle: asyncio.Task[Any]) -> None:
        retry = self._retry_spec()
        # Where the chunk kept the files it finished (a small batch): a file retried alone looks there.
        log = chunk_log_name(flight.start, len(flight.files)) if self._uses_scratch() else None
        try:
            result: BatchChunkResult = handle.result()
        except ActivityError as exc:
            # The chunk failed as a whole, after its own retries: each of its files is tried alone
            # (with all its attempts); those finished on disk are found there, not redone.
            message, error_type, _ = _describe_failure(exc, retry.max_attempts)
            workflow.logger.warning(
                "chunk of files %d-%d failed (%s: %s); retrying its files one by one",
                flight.start + 1,
                flight.start + len(flight.files),
                error_type,
                message,
            )
            self._retry.extend((flight.start + i, f, 0, log) for i, f in enumerate(flight.files))
            return
        if flight.started is not None:
            s = self._state
            seconds = (workflow.now() - flight.started).total_seconds()
            s.file_seconds = seconds_per_file(seconds, len(flight.files), flight.slots, s.file_seconds)
        outcomes = {o.file: o for o in result.outcomes}
        for i, file in enumerate(flight.files):
            outcome = outcomes.get(file)
            if outcome is None:  # not reported (cannot happen with our activity): try it alone
                self._retry.append((flight.start + i, file, 0, log))
            elif outcome.status in ("completed", "skipped_existing"):
                self._record_result(file, outcome)
            elif outcome.status == "retry" and retry.max_attempts > 1:
                self._retry.append((flight.start + i, file, 1, log))
            else:
                self._record_error(file, outcome.error_type or "Error", outcome.error or "failed", 1)

    def _record_result(self, file: str, result: _Summary) -> None:
        s = self._state
        inp = self._inp
        assert inp is not None
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

    def _record_error(self, file: str, error_type: str, message: str, attempts: int | None) -> None:
        s = self._state
        s.failed += 1
        if len(s.errors) < MAX_ERRORS:
            text = f"{error_type}: {message}" + (f" (after {attempts} attempts)" if attempts else "")
            s.errors[file] = text[:MAX_ERROR_CHARS]

    async def _cancel_running(self) -> None:
        handles = list(self._running)
        for handle in handles:
            handle.cancel()
        for handle in handles:
            flight = self._running.pop(handle)
            try:
                await handle
            except BaseException:  # cancelled or failed while cancelling: not a result either way
                continue
            self._finish(flight, handle)
        self._retry.clear()

    async def _cleanup(self) -> None:
        """Remove the scratch results: every file's outcome is in the history now."""
        assert self._state.spill_dir is not None
        try:
            await workflow.execute_activity(
                "files.cleanup",
                BatchCleanupInput(spill_dir=self._state.spill_dir),
                activity_id="gleitzeit:cleanup",
                summary="remove scratch results",
                start_to_close_timeout=timedelta(minutes=5),
                retry_policy=_LIST_RETRY,
            )
        except ActivityError as exc:  # leftovers on disk are no reason to fail a finished batch
            workflow.logger.warning(
                "could not remove the scratch results in %s: %s", self._state.spill_dir, exc
            )

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
        chunks = sum(f.chunk for f in self._running.values())
        running = f"{self._in_flight()} running" + (f" in {chunks} chunks" if chunks > 1 else "")
        line = f"{done:,}/{s.total:,} files, {running}, {s.failed:,} failed"
        if s.skipped_existing:
            line += f", {s.skipped_existing:,} already done"
        lines = [f"**{name}**: {note or self._status}", line]
        if s.runs > 1:
            lines.append(f"run {s.runs} (continue-as-new)")
        if s.results_dir:
            lines.append(f"output: `{s.results_dir}`")
        workflow.set_current_details("\n\n".join(lines))
