"""``batch.process_files``: a slice of a batch's files in one activity, ``concurrency`` of them at a time.

Why chunks: an activity per file costs the Temporal server and the worker a schedule / start / complete
round trip and a workflow task per file; on a small machine that, not the model, bounded a batch (1,000
files of 100 ms at 20 at a time took 1.5x the ideal time). A chunk pays that once for tens of files.

What stays per file:

- durability: each file goes through the same code as ``batch.process_file`` (``work_on``), and its
  result is written to disk as soon as it is there: a result file in a thread, while the lane goes on
  with its next file (a write on the lane's path cost ~5 % of a 100 ms call on a busy worker), or a
  line appended to the chunk's scratch log (a small batch without a results folder). The chunk returns
  only once every write is done, so a file it reports is on disk; a retried chunk attempt finds those
  results and does not call the model again for them (``skipped_existing``);
- retries: the chunk never retries a file itself (Temporal owns retries). A file's error comes back in
  its outcome: ``failed`` when no retry can fix it (non-retryable, or a type in
  ``non_retryable_types``), else ``retry``, and the workflow hands that file to its own
  ``batch.process_file`` activity under the batch's RetryPolicy;
- limits: one file may take at most ``file_timeout`` seconds (the single-file activity's
  start_to_close) before it counts as a retryable timeout.

The chunk heartbeats its progress (``{"done": n, "of": k}``) so that a dead worker is noticed after the
heartbeat timeout and the UI shows how far the chunk is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from temporalio import activity
from temporalio.exceptions import ApplicationError

from gleitzeit.activities.common import heartbeating
from gleitzeit.batch.store import FileWork
from gleitzeit.contracts.batch import (
    BatchChunkInput,
    BatchChunkResult,
    BatchFileCommon,
    BatchFileInput,
    BatchFileOutcome,
)

__all__ = ["WorkOn", "run_chunk"]

# One file up to its result (found on disk, or computed); what is left is to write it.
WorkOn = Callable[[BatchFileInput], Awaitable[FileWork]]
_COMMON_FIELDS = set(BatchFileCommon.model_fields)


async def run_chunk(work_on: WorkOn, inp: BatchChunkInput) -> BatchChunkResult:
    """Every file of ``inp`` through ``work_on``, ``inp.concurrency`` at a time; one outcome each."""
    common = inp.model_dump(include=_COMMON_FIELDS)
    outcomes: list[BatchFileOutcome | None] = [None] * len(inp.files)
    pending = iter(enumerate(inp.files))  # shared by the lanes: each takes the next file when free
    writes: dict[int, asyncio.Future[None]] = {}
    done = 0

    async def one(i: int, file: str) -> BatchFileOutcome:
        # Built from a validated model's fields: no need to validate each file's copy again.
        file_inp = BatchFileInput.model_construct(**common, index=inp.start + i, file=file, prior_attempts=0)
        try:
            # asyncio.timeout, not wait_for: no extra task per file.
            async with asyncio.timeout(inp.file_timeout):
                work = await work_on(file_inp)
        except ApplicationError as exc:
            final = exc.non_retryable or exc.type in inp.non_retryable_types
            return _error(file, "failed" if final else "retry", exc.type or "ApplicationError", exc.message)
        except TimeoutError:
            message = f"activity start-to-close timeout (the file took over {inp.file_timeout:g} s)"
            return _error(file, "retry", "Timeout", message)
        except Exception as exc:  # unexpected: retryable and named by its class, as the interceptor does
            name = type(exc).__name__
            return _error(file, "retry", name, f"{name}: {exc}")
        if work.blocking:  # a result file of its own: written in a thread while the lane goes on
            writes[i] = asyncio.ensure_future(asyncio.to_thread(work.write))
        else:  # a line appended to the chunk's scratch log (a single write), or nothing
            try:
                work.write()
            except OSError as exc:
                return _error(file, "retry", type(exc).__name__, f"could not write the result: {exc}")
        result = work.result
        return BatchFileOutcome(
            file=file,
            status=result.status,
            value=result.value,
            has_value=result.has_value,
            value_bytes=result.value_bytes,
            spilled=result.spilled,
        )

    async def lane() -> None:
        nonlocal done
        # Each lane is a task of its own: the LLM client keeps the current call's request id in a context
        # variable, which lanes running side by side must not share.
        for i, file in pending:
            outcomes[i] = await one(i, file)
            done += 1

    async with heartbeating(lambda: {"done": done, "of": len(inp.files)}):
        try:
            # A TaskGroup: when the chunk is cancelled, every lane (and the model call in it) is too.
            async with asyncio.TaskGroup() as group:
                for _ in range(min(inp.concurrency, len(inp.files))):
                    group.create_task(lane())
        finally:
            # Even when cancelled: a write that started finishes (a thread cannot be stopped).
            await asyncio.gather(*writes.values(), return_exceptions=True)
    for i, write in writes.items():
        if write.exception() is not None:  # the result is not on disk: not done
            name = type(write.exception()).__name__
            message = f"could not write the result: {name}: {write.exception()}"
            outcomes[i] = _error(inp.files[i], "retry", name, message)
    result = [o for o in outcomes if o is not None]
    if activity.in_activity():
        failed = sum(o.status != "completed" and o.status != "skipped_existing" for o in result)
        if failed:
            activity.logger.warning("batch chunk: %d of %d files failed", failed, len(result))
    return BatchChunkResult(outcomes=result)


def _error(file: str, status: str, error_type: str, message: str) -> BatchFileOutcome:
    return BatchFileOutcome(file=file, status=status, error=message, error_type=error_type)  # type: ignore[arg-type]
