"""BatchWorkflow: one method over every file matching a glob, durably, for up to 100,000+ files.

The run lists the files once in an activity (``files.list``: the sorted list is stored on disk, the
workflow gets only its size), then walks the list by index, fetching names in pages (``files.page``).
Files are processed in chunks: one ``batch.process_files`` activity takes a slice of the list and runs
it with its own concurrency, writing each file's result to disk as soon as it has it. At most
``max_concurrent`` files are in flight in all (a chunk holds as many slots as it runs files at once);
as a chunk finishes the next starts, sized by ``gleitzeit.batch.plan``. A file that fails in a chunk
with an error another attempt may fix is retried alone, as a ``batch.process_file`` activity under the
batch's RetryPolicy, its chunk attempt counted; a non-retryable error is recorded at once.

History stays bounded: after ``files_per_run`` files, or earlier when Temporal suggests it, the run
stops scheduling, drains what is in flight and continues as new with its counters in
``BatchInput.state``. Inline results are capped by count and bytes so that carried state stays far from
the 2 MiB payload limit.

One file's failure (after its retries) is counted and recorded (the first ``MAX_ERRORS``), and the
batch goes on. A crash loses nothing: Temporal re-runs the activities that were in flight, and those
find the results already written and do not call the model again (``skipped_existing``). A small
batch without an output directory keeps scratch copies for that, removed (``files.cleanup``) at the end.

Why one module of ~450 lines: it is the scheduling loop and the bookkeeping of what is in flight, and
they share the run's state; how chunks are sized is ``plan``, what is kept and reported of each file is
``tally``, the listing calls are ``listing``.

Determinism (see FACTS.md): in-flight handles live in an insertion-ordered dict; every activity gets
a stable id (a chunk's range of the listing, or a file's relative path); no clock, randomness or I/O.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from gleitzeit.batch.listing import cleanup, list_files, page
    from gleitzeit.batch.plan import (
        MIN_TARGET_SECONDS,
        chunk_activity_id,
        chunk_summary,
        file_activity_id,
        plan_chunk,
        retry_after_chunk,
        seconds_per_file,
        target_seconds,
    )
    from gleitzeit.batch.tally import (
        MAX_INLINE_BYTES,
        FileSummary,
        batch_result,
        details_text,
        record_error,
        record_result,
    )
    from gleitzeit.contracts.batch import (
        BatchChunkInput,
        BatchChunkResult,
        BatchFileInput,
        BatchFileResult,
        BatchInput,
        BatchProgress,
        BatchResult,
        BatchState,
        chunk_log_name,
    )
    from gleitzeit.contracts.heartbeat import MIN_HEARTBEAT_TIMEOUT
    from gleitzeit.contracts.spec import RetrySpec, TaskSpec
    from gleitzeit.workflows.dag import MAX_IN_FLIGHT, _describe_failure
    from gleitzeit.workflows.failures import INPUT_FAILURE_TYPES
    from gleitzeit.workflows.policies import ActivityOptions, activity_options

__all__ = ["CHUNKS_PATCH", "PAGE_SIZE", "TARGET_PATCH", "BatchWorkflow"]

# File names fetched per files.page call (~50 KB of names; a handful of events per page).
PAGE_SIZE = 500
# The patch that brought chunks, deprecated (see run()).
CHUNKS_PATCH = "batch-chunks"
# Runs that started while every chunk aimed at MIN_TARGET_SECONDS replay the chunk sizes they recorded.
TARGET_PATCH = "batch-chunk-target"
# A chunk may take as long as its rounds of files each at their limit, plus this.
CHUNK_GRACE = timedelta(minutes=1)

# A cancelled batch is over only when its activities have stopped (as in DagWorkflow): nothing keeps
# calling the model after the batch says it was cancelled.
_CANCEL = workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED


@dataclass
class _Flight:
    """An activity in flight: a chunk, or one file (``start`` is the listing index of ``files[0]``)."""

    files: list[str]
    start: int
    slots: int  # files it may run at once: its share of max_concurrent
    chunk: bool = False
    prior_attempts: int = 0  # a retried file's attempts in its chunk
    started: datetime | None = None  # when a chunk was scheduled (workflow time)


@workflow.defn(name="BatchWorkflow", failure_exception_types=INPUT_FAILURE_TYPES)
class BatchWorkflow:
    def __init__(self) -> None:
        self._inp: BatchInput | None = None
        self._state = BatchState()
        self._running: dict[asyncio.Task[Any], _Flight] = {}
        # (index, file, prior attempts, its chunk's scratch log): files to run alone
        self._retry: list[tuple[int, str, int, str | None]] = []
        self._status = "running"
        self._target = MIN_TARGET_SECONDS  # the time a chunk aims at (plan.target_seconds)
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
        window = max(1, min(inp.max_concurrent, MAX_IN_FLIGHT))
        # Every run processes files in chunks; the one-activity-per-file branch is gone. Runs recorded
        # while that branch existed hold a (non-deprecated) "batch-chunks" patch marker, which the
        # Temporal core refuses to replay unless the code still names the patch: deprecated, it
        # matches the marker without a branch (tests/data/histories/batch_chunks.json replays so).
        workflow.deprecate_patch(CHUNKS_PATCH)
        # Decided once per run, before its first command: a run recorded without the marker replays
        # the chunk sizes it was started with.
        if workflow.patched(TARGET_PATCH):
            self._target = target_seconds(window)
        if state.listing_id is None:
            self._update_details("listing files")
            try:
                listing = await list_files(inp)
            except ApplicationError:
                self._status = "failed"
                self._update_details()
                raise
            state.listing_id, state.total, state.root = listing.listing_id, listing.total, listing.root
            state.results_dir, state.spill_dir = listing.results_dir, listing.spill_dir
        run_start = state.cursor
        self._names_start = state.cursor
        self._update_details()

        try:
            await self._run_chunks(inp, window, run_start)
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
            assert state.spill_dir is not None
            await cleanup(state.spill_dir)
        self._status = "partial" if state.failed else "completed"
        self._update_details()
        return batch_result(state, inp, workflow.info().workflow_id)

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
            # Only a declared retry block lets a script's own failure be retried, as for a DAG task.
            opts = activity_options(
                TaskSpec(
                    id="file",
                    method=inp.method,
                    parameters=inp.parameters,
                    retry=inp.retry,
                    timeout=inp.timeout,
                ),
                fallback=retry,
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
            assert self._state.listing_id is not None
            page_size = min(PAGE_SIZE, run_end - page_start)
            self._names.extend(await page(self._state.listing_id, page_start, page_size))
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
            "file_roots": inp.file_roots,
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
        return self._state.results_dir is None and self._state.spill_dir is not None

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
        """One file in its own activity: a file retried after its chunk."""
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
            "cancellation_type": _CANCEL,
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
        return timedelta(seconds=max(inp.heartbeat_timeout, MIN_HEARTBEAT_TIMEOUT))

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
            record_error(
                self._state, file, error_type, message, attempts + flight.prior_attempts if attempts else None
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
                record_error(self._state, file, outcome.error_type or "Error", outcome.error or "failed", 1)

    def _record_result(self, file: str, result: FileSummary) -> None:
        assert self._inp is not None
        record_result(self._state, self._inp.inline_results_limit, file, result)

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

    def _update_details(self, note: str | None = None) -> None:
        """Live progress for the web UI's 'current details'."""
        chunks = sum(f.chunk for f in self._running.values())
        name = self._inp.name if self._inp else "batch"
        text = details_text(self._state, name, note or self._status, self._in_flight(), chunks)
        workflow.set_current_details(text)
