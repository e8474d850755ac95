"""How BatchWorkflow cuts a batch into chunks, names them, and retries a file that failed in one.

Pure functions (imported by the workflow, deterministic, tested directly).

Concurrency: the workflow keeps at most ``max_concurrent`` files in flight in all. A chunk of ``k``
files running ``c`` at a time holds ``c`` of those slots until it completes, so the model server never
sees more than the user asked for. What a chunk costs beyond its files is paid per chunk: the round
trip from its completion to the next chunk's start (~15-30 ms on a small idle machine), and, when ``c`` > 1,
its tail (its last files finish one by one while the chunk still holds all ``c`` slots) and its start
(``c`` requests at once). So:

- ``c`` is 1 up to ``MAX_LANES`` slots: each slot is a lane of one-file-at-a-time chunks, with no tail
  and no burst at all (measured on 2 cores, 1,000 files of 100 ms at 20 at a time: 2 lanes of
  chunks running 10 files at once took x1.21-1.24 of the ideal time, 20 one-file lanes x1.16-1.20;
  the extra activities cost the server less than the tails cost the lanes). Beyond ``MAX_LANES``
  slots ``c`` grows, so that at most ``MAX_LANES`` chunks are in flight, and such a chunk has at
  least ``MIN_ROUNDS`` rounds of ``c`` files.
- ``k`` aims at chunks of ``target_seconds(window)`` (from the seconds per file measured on
  earlier chunks; ``FIRST_ROUNDS`` rounds until there is a measurement): ``PROGRESS_STEP`` seconds per
  chunk in flight, between ``MIN_TARGET_SECONDS`` and ``MAX_TARGET_SECONDS``. Every chunk costs a round
  trip (its completion, a workflow task, the next chunk's start) during which its slots are idle, and
  on a busy worker that round trip is far longer than on an idle one: 20 lanes of 2 s chunks spent
  ~15 % of their slot time between chunks (measured on 2 cores, 3,000 files of 100 ms at 20 at a
  time), and a batch of 10,000 such files took x1.32-1.51 of the ideal time with 2 s chunks and
  x1.24-1.27 with 8 s chunks. Few lanes finish few chunks, so their chunks stay short and the
  progress (counted as chunks complete) still moves every few seconds; many lanes finish chunks in
  turn, so the progress moves every ``PROGRESS_STEP`` seconds or so however long each chunk is.
- Near the end of a run chunks shrink (guided self-scheduling: a chunk takes at most its slots'
  share of the work left, in flight included), so that the lanes finish together and a 10-file batch
  is not one serial chunk.
"""

from __future__ import annotations

import hashlib
import math
from datetime import timedelta

from temporalio.common import RetryPolicy

__all__ = [
    "MAX_ACTIVITY_ID",
    "MAX_CHUNK_FILES",
    "MAX_LANES",
    "MAX_TARGET_SECONDS",
    "MIN_TARGET_SECONDS",
    "chunk_activity_id",
    "chunk_summary",
    "file_activity_id",
    "plan_chunk",
    "target_seconds",
    "retry_after_chunk",
    "seconds_per_file",
]

# Chunks in flight at most; beyond this many slots a chunk runs several files at once.
MAX_LANES = 32
# The duration a chunk aims at: PROGRESS_STEP per chunk in flight, within [MIN, MAX]_TARGET_SECONDS.
PROGRESS_STEP = 0.4
MIN_TARGET_SECONDS = 2.0
MAX_TARGET_SECONDS = 8.0
# Rounds of a chunk before anything was measured.
FIRST_ROUNDS = 2
# Rounds at least, for a chunk that runs several files at once (its tail is paid once per chunk).
MIN_ROUNDS = 3
# Files per chunk at most: bounds its input and result (names, inline values) far below 2 MiB.
MAX_CHUNK_FILES = 500
# Temporal's default limit on an id's length is 1,000 characters.
MAX_ACTIVITY_ID = 900
_SUMMARY_NAME = 80


def plan_chunk(
    *,
    free: int,
    window: int,
    remaining: int,
    file_seconds: float | None,
    in_flight_left: float = 0.0,
    target: float | None = None,
) -> tuple[int, int]:
    """(files, concurrency) of the next chunk.

    ``free`` of ``window`` slots are free, ``remaining`` files are left to schedule in this run (both
    positive), a file took ``file_seconds`` so far (None: unknown), and the chunks in flight have about
    ``in_flight_left`` files still to run. A chunk aims at ``target`` seconds (default:
    ``target_seconds(window)``).
    """
    lane = max(1, math.ceil(window / MAX_LANES))
    concurrency = min(free, lane)
    if file_seconds is None:
        rounds = FIRST_ROUNDS
    else:
        aim = target if target is not None else target_seconds(window)
        rounds = round(aim / max(file_seconds, 1e-3))
    rounds = max(1 if concurrency == 1 else MIN_ROUNDS, rounds)
    # Guided: a chunk takes at most its slots' share of the work left (in flight included), so that
    # near the end the lanes finish together instead of one lane running a long chunk alone.
    share = math.ceil((remaining + in_flight_left) * concurrency / window)
    count = min(concurrency * rounds, MAX_CHUNK_FILES, max(concurrency, share), remaining)
    return count, min(concurrency, count)


def target_seconds(window: int) -> float:
    """How long a chunk aims to run when ``window`` files may be in flight: ``PROGRESS_STEP`` per chunk
    that the window keeps in flight (at most ``MAX_LANES``), within the MIN and MAX (see above)."""
    chunks_in_flight = min(window, MAX_LANES)
    return min(MAX_TARGET_SECONDS, max(MIN_TARGET_SECONDS, PROGRESS_STEP * chunks_in_flight))


def seconds_per_file(seconds: float, files: int, concurrency: int, before: float | None) -> float:
    """The running estimate of how long a file keeps a slot, after a chunk of ``files`` files run
    ``concurrency`` at a time took ``seconds`` (round trip included)."""
    sample = seconds * concurrency / max(files, 1)
    return sample if before is None else (before + sample) / 2


def file_activity_id(file: str) -> str:
    """The activity id of a file: its relative path (cut, with a hash, beyond Temporal's id limit)."""
    if len(file) <= MAX_ACTIVITY_ID:
        return file
    digest = hashlib.sha1(file.encode()).hexdigest()[:12]
    return f"{file[: MAX_ACTIVITY_ID - 13]}~{digest}"


def chunk_activity_id(start: int, count: int) -> str:
    """``gleitzeit:files-1-40``: files by their 1-based place in the listing (unique within a run)."""
    return f"gleitzeit:files-{start + 1}-{start + count}"


def chunk_summary(start: int, files: list[str]) -> str:
    """What the UI shows for a chunk: ``files 1-40: doc00000.txt .. doc00039.txt``."""

    def cut(name: str) -> str:
        return name if len(name) <= _SUMMARY_NAME else "..." + name[-(_SUMMARY_NAME - 3) :]

    if len(files) == 1:
        return f"file {start + 1}: {cut(files[0])}"
    return f"files {start + 1}-{start + len(files)}: {cut(files[0])} .. {cut(files[-1])}"


def retry_after_chunk(policy: RetryPolicy, prior: int) -> tuple[timedelta, RetryPolicy] | None:
    """The rest of a file's retries after ``prior`` attempts in a chunk: the delay before its next
    attempt and the policy of its own activity, so that in all it gets exactly ``policy``'s attempts
    and backoff. None when ``policy`` allows no further attempt."""
    attempts = policy.maximum_attempts
    if attempts and attempts - prior < 1:
        return None
    first = policy.initial_interval or timedelta(seconds=1)
    cap = policy.maximum_interval or first * 100  # Temporal's default cap

    def interval(n: int) -> timedelta:  # the delay after the n-th attempt (1-based)
        return min(first * policy.backoff_coefficient ** (n - 1), cap)

    rest = RetryPolicy(
        initial_interval=interval(prior + 1),
        backoff_coefficient=policy.backoff_coefficient,
        maximum_interval=cap,
        maximum_attempts=attempts - prior if attempts else 0,
        non_retryable_error_types=policy.non_retryable_error_types,
    )
    return interval(prior), rest
