"""BatchWorkflow's scheduling on the time-skipping server (or the server ``--workflow-environment`` names,
tests/fixtures/temporal.py): the sliding window of chunks, continue-as-new,
failures and their retries, inline results, cancellation. Each file's work is a double here
(``ProcessDouble``); the batch activities around it (listing, paging, chunks, single files) are real."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from gleitzeit.batch.plan import MIN_TARGET_SECONDS, target_seconds
from gleitzeit.batch.workflow import BatchWorkflow
from gleitzeit.client.batch import start_batch, wait_batch
from gleitzeit.contracts.batch import BatchInput, BatchResult
from gleitzeit.contracts.spec import RetrySpec
from gleitzeit.core.errors import GleitzeitError, ValidationError
from gleitzeit.worker.build import WORKFLOWS
from tests.batch.harness import ProcessDouble, batch_settings, double_worker, make_tree
from tests.helpers import until

pytestmark = pytest.mark.timeout(120)

HISTORIES = Path(__file__).resolve().parents[1] / "data" / "histories"
# Re-record after a deliberate, patched change: GLEITZEIT_RECORD_HISTORIES=1 (as tests/integration).
RECORD = os.environ.get("GLEITZEIT_RECORD_HISTORIES") == "1"


async def run_with_history(
    env: WorkflowEnvironment, tmp_path: Path, double: ProcessDouble, inp: BatchInput
) -> tuple[BatchResult, WorkflowHistory]:
    settings = batch_settings(tmp_path)
    async with double_worker(env.client, settings, double):
        handle = await start_batch(env.client, inp, settings)
        return await wait_batch(handle), await handle.fetch_history()


async def run_batch(
    env: WorkflowEnvironment, tmp_path: Path, double: ProcessDouble, **kw: object
) -> BatchResult:
    settings = batch_settings(tmp_path)
    inp = BatchInput(directory=str(tmp_path / "in"), parameters={"model": "m", "prompt": "p"}, **kw)  # type: ignore[arg-type]
    async with double_worker(env.client, settings, double):
        handle = await start_batch(env.client, inp, settings)
        return await wait_batch(handle)


async def test_sliding_window_keeps_max_concurrent_running(
    workflow_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = make_tree(tmp_path / "in", 24)
    double = ProcessDouble(sleep=0.05, slow={names[0]: 1.0})
    result = await run_batch(workflow_env, tmp_path, double, max_concurrent=4)
    assert double.peak == 4
    assert result.completed == 24 and result.failed == 0 and result.status == "completed"
    assert sorted(double.per_file()) == names and set(double.per_file().values()) == {1}
    # A window, not waves: while the slow first file ran, the other three slots kept turning over.
    finished_meanwhile = [f for f in double.finished if double.ended_at[f] < double.ended_at[names[0]]]
    assert len(finished_meanwhile) > 8
    assert result.results[names[1]] == f"done {names[1]}"


async def test_continue_as_new_carries_the_cursor_and_processes_each_file_once(
    workflow_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = make_tree(tmp_path / "in", 300)
    double = ProcessDouble(fail_always={names[5], names[250]})
    result = await run_batch(workflow_env, tmp_path, double, max_concurrent=20, files_per_run=120)
    assert result.runs == 3  # 120 + 120 + 60: continued as new twice
    assert result.total == 300 and result.completed == 298 and result.failed == 2
    assert set(result.errors) == {names[5], names[250]}
    assert double.per_file() == {n: 1 for n in names}
    assert len(result.results) == 298  # inline results crossed both continue-as-new boundaries
    assert result.status == "partial"


async def test_failures_are_recorded_and_the_batch_goes_on(
    workflow_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = make_tree(tmp_path / "in", 10)
    double = ProcessDouble(fail_always={names[3]}, fail_times={names[7]: 2})
    result = await run_batch(
        workflow_env, tmp_path, double, max_concurrent=3, retry=RetrySpec(max_attempts=3, jitter=False)
    )
    assert result.completed == 9 and result.failed == 1
    assert "ScriptError: cannot process" in result.errors[names[3]]
    assert [a for f, a in double.calls if f == names[7]] == [1, 2, 3]  # retried by Temporal, then fine
    assert [a for f, a in double.calls if f == names[3]] == [1]  # non-retryable: one attempt
    assert names[7] in result.results and names[3] not in result.results


async def test_a_batch_where_every_file_fails_still_completes(
    workflow_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = make_tree(tmp_path / "in", 5)
    double = ProcessDouble(fail_always=set(names))
    result = await run_batch(workflow_env, tmp_path, double)
    assert result.failed == result.total == 5 and result.completed == 0
    assert result.status == "partial" and result.results == {}


async def test_inline_results_stop_at_the_limit(workflow_env: WorkflowEnvironment, tmp_path: Path) -> None:
    make_tree(tmp_path / "in", 12)
    double = ProcessDouble()
    result = await run_batch(workflow_env, tmp_path, double, max_concurrent=6, inline_results_limit=10)
    assert result.completed == 12 and result.results == {}
    # Large and without output_dir: the results go under data_dir, and the result says where.
    assert result.output_dir is not None and result.output_dir.endswith(result.workflow_id)
    assert any("were written to" in w for w in result.warnings)


async def test_progress_query_and_recursive_pattern(
    workflow_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    make_tree(tmp_path / "in" / "a", 3, suffix=".json")
    make_tree(tmp_path / "in" / "b" / "c", 2, suffix=".json")
    make_tree(tmp_path / "in", 2, suffix=".txt")
    settings = batch_settings(tmp_path)
    double = ProcessDouble(sleep=0.3)
    inp = BatchInput(directory="in", base_dir=str(tmp_path), pattern="**/*.json", max_concurrent=2)
    async with double_worker(workflow_env.client, settings, double):
        handle = await start_batch(workflow_env.client, inp, settings)
        polls: list[Any] = []

        async def listed() -> bool:
            polls.append(await handle.query(BatchWorkflow.progress))
            return bool(polls[-1].total)

        await until(listed, "the batch's progress shows its files", interval=0.01)
        result = await wait_batch(handle)
        final = await handle.query(BatchWorkflow.progress)
    seen = polls[-1]
    assert seen is not None and seen.total == 5 and seen.running <= 2
    assert sorted(result.results) == [
        "a/f00000.json",
        "a/f00001.json",
        "a/f00002.json",
        "b/c/f00000.json",
        "b/c/f00001.json",
    ]
    assert final.status == "completed" and final.completed == 5 and final.running == 0


async def test_no_matching_file_completes_empty_with_a_warning(
    workflow_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    make_tree(tmp_path / "in", 2)
    result = await run_batch(workflow_env, tmp_path, ProcessDouble(), pattern="*.pdf")
    assert result.total == 0 and result.completed == 0
    assert "no file" in result.warnings[0]


async def test_a_missing_directory_is_a_validation_error(
    workflow_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        await run_batch(workflow_env, tmp_path, ProcessDouble())


async def test_a_method_that_takes_no_file_is_refused_before_starting(
    workflow_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    make_tree(tmp_path / "in", 1)
    with pytest.raises(ValidationError, match="cannot use method 'llm/embed'"):
        await run_batch(workflow_env, tmp_path, ProcessDouble(), method="llm/embed")


async def test_histories_replay_deterministically(workflow_env: WorkflowEnvironment, tmp_path: Path) -> None:
    names = make_tree(tmp_path / "in", 40)
    settings = batch_settings(tmp_path)
    double = ProcessDouble(fail_always={names[2]}, slow={names[0]: 0.2})
    inp = BatchInput(directory=str(tmp_path / "in"), max_concurrent=7, files_per_run=25)
    client = workflow_env.client
    async with double_worker(client, settings, double):
        handle = await start_batch(client, inp, settings)
        result = await wait_batch(handle)
    assert result.runs == 2
    first = await client.get_workflow_handle(handle.id, run_id=handle.result_run_id).fetch_history()
    last = await handle.fetch_history()  # no run id: the latest run, the one that finished
    assert first.events[-1].HasField("workflow_execution_continued_as_new_event_attributes")
    assert last.events[-1].HasField("workflow_execution_completed_event_attributes")
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter)
    for history in (first, last):
        await replayer.replay_workflow(history)


def scheduled(history: Any) -> list[tuple[str, str, str]]:
    """(activity type, activity id, summary) of every activity a history scheduled."""
    out = []
    for event in history.events:
        if event.HasField("activity_task_scheduled_event_attributes"):
            attrs = event.activity_task_scheduled_event_attributes
            summary = pydantic_data_converter.payload_converter.from_payload(event.user_metadata.summary, str)
            out.append((attrs.activity_type.name, attrs.activity_id, summary))
    return out


async def test_files_run_in_chunks_named_by_their_range(
    workflow_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = make_tree(tmp_path / "in", 30)
    double = ProcessDouble(sleep=0.02)
    inp = BatchInput(directory=str(tmp_path / "in"), max_concurrent=6)
    result, history = await run_with_history(workflow_env, tmp_path, double, inp)
    assert result.completed == 30 and double.per_file() == {n: 1 for n in names} and double.peak == 6
    chunks = [s for s in scheduled(history) if s[0] == "batch.process_files"]
    assert len(chunks) == len(double.chunks) < 30
    assert chunks[0][1:] == ("gleitzeit:files-1-2", f"files 1-2: {names[0]} .. {names[1]}")
    covered = sorted((start, count) for start, count, _ in double.chunks)
    assert sum(count for _, count in covered) == 30 and covered[0][0] == 0
    assert all(a + n == b for (a, n), (b, _) in zip(covered, covered[1:], strict=False))
    assert "batch.process_file" not in {s[0] for s in scheduled(history)}


async def test_chunks_aim_longer_with_more_lanes_and_runs_recorded_before_replay(
    workflow_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    make_tree(tmp_path / "in", 500)
    double = ProcessDouble(sleep=0.1)
    inp = BatchInput(directory=str(tmp_path / "in"), max_concurrent=10)
    result, history = await run_with_history(workflow_env, tmp_path, double, inp)
    if RECORD:
        (HISTORIES / "batch_chunks.json").write_text(history.to_json())
    assert result.completed == 500 and double.peak == 10
    # A file keeps its slot >= 0.1 s, so a chunk aiming at MIN_TARGET_SECONDS never had more than 20
    # files; 10 lanes aim at target_seconds(10) = 4 s.
    assert target_seconds(10) == 4.0
    assert max(files for _, files, _ in double.chunks) > round(MIN_TARGET_SECONDS / 0.1)
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter)
    await replayer.replay_workflow(history)
    # Recorded while every chunk aimed at MIN_TARGET_SECONDS: it replays the chunks it scheduled.
    recorded = HISTORIES / "batch_chunks.json"
    await replayer.replay_workflow(WorkflowHistory.from_json("batch_chunks", recorded.read_text()))


async def test_a_file_failing_in_its_chunk_is_retried_alone_with_the_rest_of_its_attempts(
    workflow_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = make_tree(tmp_path / "in", 8)
    double = ProcessDouble(fail_times={names[4]: 1, names[5]: 5})
    inp = BatchInput(
        directory=str(tmp_path / "in"), max_concurrent=2, retry=RetrySpec(max_attempts=3, jitter=False)
    )
    result, history = await run_with_history(workflow_env, tmp_path, double, inp)
    assert result.completed == 7 and result.failed == 1
    assert [a for f, a in double.calls if f == names[4]] == [1, 2]
    assert [a for f, a in double.calls if f == names[5]] == [1, 2, 3]  # 3 attempts in all, not 1 + 3
    assert result.errors[names[5]] == "LLMServerError: LLM server busy (after 3 attempts)"
    singles = [s for s in scheduled(history) if s[0] == "batch.process_file"]
    assert sorted(s[1] for s in singles) == [names[4], names[5]]
    # Temporal's backoff before the second attempt, as a workflow timer.
    assert sum(e.HasField("timer_started_event_attributes") for e in history.events) == 2


async def test_a_chunk_that_keeps_dying_hands_its_files_over_one_by_one(
    workflow_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = make_tree(tmp_path / "in", 6)
    double = ProcessDouble(lose_chunks_with={names[2]})
    result = await run_batch(
        workflow_env, tmp_path, double, max_concurrent=2, retry=RetrySpec(max_attempts=2, jitter=False)
    )
    assert result.completed == 6 and result.failed == 0
    lost = [c for c in double.chunks if c[0] <= 2 < c[0] + c[1]]
    assert len(lost) == 2  # both attempts of the chunk
    assert set(result.results) == set(names)


async def test_one_at_a_time_and_cancelling(workflow_env: WorkflowEnvironment, tmp_path: Path) -> None:
    names = make_tree(tmp_path / "in", 5)
    double = ProcessDouble(sleep=0.01)
    result = await run_batch(workflow_env, tmp_path, double, max_concurrent=1)
    assert result.completed == 5 and double.peak == 1 and [f for f, _ in double.calls] == names

    make_tree(tmp_path / "slow", 20)
    settings = batch_settings(tmp_path)
    double = ProcessDouble(sleep=0.5)
    inp = BatchInput(directory=str(tmp_path / "slow"), max_concurrent=3)
    async with double_worker(workflow_env.client, settings, double):
        handle = await start_batch(workflow_env.client, inp, settings)
        await until(lambda: double.running > 0, "a file's work has started")
        await handle.cancel()
        with pytest.raises(GleitzeitError):
            await wait_batch(handle)
        progress = await handle.query(BatchWorkflow.progress)
    assert progress.status == "cancelled" and progress.running == 0
    assert len(double.finished) < 20
