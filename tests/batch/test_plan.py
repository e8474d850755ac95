"""How BatchWorkflow cuts a batch into chunks (pure functions of gleitzeit.batch.plan)."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy

from gleitzeit.batch.plan import (
    MAX_CHUNK_FILES,
    MAX_LANES,
    MAX_TARGET_SECONDS,
    MIN_TARGET_SECONDS,
    chunk_activity_id,
    chunk_summary,
    plan_chunk,
    retry_after_chunk,
    seconds_per_file,
    target_seconds,
)


def schedule(window: int, total: int, file_seconds: float | None) -> list[tuple[int, int]]:
    """The chunks of a batch as the workflow plans them when chunks finish in the order they started."""
    chunks: list[tuple[int, int]] = []
    in_flight: list[tuple[int, int]] = []
    left = total
    while left:
        free = window - sum(c for _, c in in_flight)
        while free <= 0:
            free += in_flight.pop(0)[1]
        count, concurrency = plan_chunk(
            free=free,
            window=window,
            remaining=left,
            file_seconds=file_seconds,
            in_flight_left=sum(k for k, _ in in_flight),
        )
        assert 1 <= concurrency <= free and 1 <= count <= left
        chunks.append((count, concurrency))
        in_flight.append((count, concurrency))
        left -= count
    return chunks


def test_up_to_max_lanes_slots_each_chunk_runs_one_file_at_a_time() -> None:
    assert plan_chunk(free=20, window=20, remaining=1000, file_seconds=None) == (2, 1)
    # Measured 0.1 s per file: chunks of about target_seconds(20) = 8 s.
    count, concurrency = plan_chunk(free=20, window=20, remaining=10_000, file_seconds=0.1)
    assert concurrency == 1 and count == round(target_seconds(20) / 0.1) == 80
    # A run recorded with another aim keeps it.
    assert plan_chunk(free=20, window=20, remaining=10_000, file_seconds=0.1, target=2.0) == (20, 1)
    # A slow model: one file per chunk, still no tail to wait for.
    assert plan_chunk(free=4, window=4, remaining=100, file_seconds=30.0) == (1, 1)


def test_beyond_max_lanes_a_chunk_runs_several_files_at_once_for_several_rounds() -> None:
    window = 4 * MAX_LANES
    count, concurrency = plan_chunk(free=window, window=window, remaining=100_000, file_seconds=10.0)
    assert concurrency == 4 and count == 4 * 3  # at least MIN_ROUNDS rounds: the tail is paid per chunk
    count, concurrency = plan_chunk(free=3, window=window, remaining=100_000, file_seconds=0.0001)
    assert concurrency == 3 and count <= MAX_CHUNK_FILES  # only the free slots; bounded in size


def test_chunks_aim_longer_the_more_lanes_finish_chunks_in_turn() -> None:
    assert target_seconds(1) == target_seconds(5) == MIN_TARGET_SECONDS  # few lanes: progress moves often
    assert target_seconds(10) == 4.0
    assert target_seconds(20) == target_seconds(MAX_LANES) == MAX_TARGET_SECONDS
    # Beyond MAX_LANES slots the chunks in flight stay MAX_LANES: the aim stays the longest.
    window = 4 * MAX_LANES
    assert target_seconds(window) == MAX_TARGET_SECONDS
    count, concurrency = plan_chunk(free=window, window=window, remaining=100_000, file_seconds=0.1)
    assert (count, concurrency) == (4 * round(MAX_TARGET_SECONDS / 0.1), 4)


def test_chunks_shrink_near_the_end_so_the_lanes_finish_together() -> None:
    # 100 files left for 20 lanes of 0.1 s files: each lane gets its share (5), not a 2 s chunk.
    assert plan_chunk(free=1, window=20, remaining=100, file_seconds=0.1) == (5, 1)
    # Work still in flight counts too.
    assert plan_chunk(free=1, window=20, remaining=100, file_seconds=0.1, in_flight_left=300) == (20, 1)


def test_small_batches_and_one_at_a_time_stay_sensible() -> None:
    # 10 files, 5 at a time: never one serial chunk.
    assert schedule(5, 10, None) == [(2, 1)] * 5
    # max_concurrent=1: one chunk at a time, sized by time.
    assert schedule(1, 12, 0.5) == [(4, 1), (4, 1), (4, 1)]
    assert schedule(1, 1, None) == [(1, 1)]


def test_retry_after_a_chunk_keeps_the_policy_in_all() -> None:
    policy = RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(seconds=5),
        maximum_attempts=4,
        non_retryable_error_types=["ScriptError"],
    )
    rest = retry_after_chunk(policy, 1)
    assert rest is not None
    delay, after = rest
    # Attempt 1 ran in the chunk; attempt 2 comes after 1 s, then 2 s, then 4 s: as Temporal would.
    assert delay == timedelta(seconds=1)
    assert after.initial_interval == timedelta(seconds=2) and after.backoff_coefficient == 2.0
    assert after.maximum_attempts == 3 and after.maximum_interval == timedelta(seconds=5)
    assert after.non_retryable_error_types == ["ScriptError"]
    assert retry_after_chunk(RetryPolicy(maximum_attempts=1), 1) is None
    assert retry_after_chunk(RetryPolicy(maximum_attempts=0), 1) is not None  # unlimited stays so


def test_chunk_names_and_the_latency_estimate() -> None:
    assert chunk_activity_id(0, 40) == "gleitzeit:files-1-40"
    names = [f"doc{i:05d}.txt" for i in range(40)]
    assert chunk_summary(0, names) == "files 1-40: doc00000.txt .. doc00039.txt"
    assert chunk_summary(7, ["a.txt"]) == "file 8: a.txt"
    assert len(chunk_summary(0, ["x" * 500, "y" * 500])) < 200
    assert seconds_per_file(2.0, 20, 1, None) == 0.1
    assert seconds_per_file(2.0, 20, 10, 0.1) == 0.55  # 10 at a time: each held a slot 1 s
