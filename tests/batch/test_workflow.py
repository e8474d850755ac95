"""BatchWorkflow's scheduling on the time-skipping server: the sliding window, continue-as-new,
failures, inline results. ``batch.process_file`` is a double here; listing and paging are real."""

from __future__ import annotations

from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from gleitzeit.client.batch import start_batch, wait_batch
from gleitzeit.core.errors import ValidationError
from gleitzeit.dsl.models import RetrySpec
from gleitzeit.workflows import WORKFLOWS
from gleitzeit.workflows.batch import BatchWorkflow
from gleitzeit.workflows.batch_models import BatchInput, BatchResult
from tests.batch.harness import ProcessDouble, batch_settings, double_worker, make_tree

pytestmark = pytest.mark.timeout(120)


async def run_batch(
    env: WorkflowEnvironment, tmp_path: Path, double: ProcessDouble, **kw: object
) -> BatchResult:
    settings = batch_settings(tmp_path)
    inp = BatchInput(directory=str(tmp_path / "in"), parameters={"model": "m", "prompt": "p"}, **kw)  # type: ignore[arg-type]
    async with double_worker(env.client, settings, double):
        handle = await start_batch(env.client, inp, settings)
        return await wait_batch(handle)


async def test_sliding_window_keeps_max_concurrent_running(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = make_tree(tmp_path / "in", 24)
    double = ProcessDouble(sleep=0.05, slow={names[0]: 1.0})
    result = await run_batch(time_skipping_env, tmp_path, double, max_concurrent=4)
    assert double.peak == 4
    assert result.completed == 24 and result.failed == 0 and result.status == "completed"
    assert sorted(double.per_file()) == names and set(double.per_file().values()) == {1}
    # A window, not waves: while the slow first file ran, the other three slots kept turning over.
    finished_meanwhile = [f for f in double.finished if double.ended_at[f] < double.ended_at[names[0]]]
    assert len(finished_meanwhile) > 8
    assert result.results[names[1]] == f"done {names[1]}"


async def test_continue_as_new_carries_the_cursor_and_processes_each_file_once(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = make_tree(tmp_path / "in", 300)
    double = ProcessDouble(fail_always={names[5], names[250]})
    result = await run_batch(time_skipping_env, tmp_path, double, max_concurrent=20, files_per_run=120)
    assert result.runs == 3  # 120 + 120 + 60: continued as new twice
    assert result.total == 300 and result.completed == 298 and result.failed == 2
    assert set(result.errors) == {names[5], names[250]}
    assert double.per_file() == {n: 1 for n in names}
    assert len(result.results) == 298  # inline results crossed both continue-as-new boundaries
    assert result.status == "partial"


async def test_failures_are_recorded_and_the_batch_goes_on(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = make_tree(tmp_path / "in", 10)
    double = ProcessDouble(fail_always={names[3]}, fail_times={names[7]: 2})
    result = await run_batch(
        time_skipping_env, tmp_path, double, max_concurrent=3, retry=RetrySpec(max_attempts=3, jitter=False)
    )
    assert result.completed == 9 and result.failed == 1
    assert "ScriptError: cannot process" in result.errors[names[3]]
    assert [a for f, a in double.calls if f == names[7]] == [1, 2, 3]  # retried by Temporal, then fine
    assert [a for f, a in double.calls if f == names[3]] == [1]  # non-retryable: one attempt
    assert names[7] in result.results and names[3] not in result.results


async def test_a_batch_where_every_file_fails_still_completes(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = make_tree(tmp_path / "in", 5)
    double = ProcessDouble(fail_always=set(names))
    result = await run_batch(time_skipping_env, tmp_path, double)
    assert result.failed == result.total == 5 and result.completed == 0
    assert result.status == "partial" and result.results == {}


async def test_inline_results_stop_at_the_limit(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    make_tree(tmp_path / "in", 12)
    double = ProcessDouble()
    result = await run_batch(time_skipping_env, tmp_path, double, max_concurrent=6, inline_results_limit=10)
    assert result.completed == 12 and result.results == {}
    # Large and without output_dir: the results go under data_dir, and the result says where.
    assert result.output_dir is not None and result.output_dir.endswith(result.workflow_id)
    assert any("were written to" in w for w in result.warnings)


async def test_progress_query_and_recursive_pattern(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    make_tree(tmp_path / "in" / "a", 3, suffix=".json")
    make_tree(tmp_path / "in" / "b" / "c", 2, suffix=".json")
    make_tree(tmp_path / "in", 2, suffix=".txt")
    settings = batch_settings(tmp_path)
    double = ProcessDouble(sleep=0.3)
    inp = BatchInput(directory="in", base_dir=str(tmp_path), pattern="**/*.json", max_concurrent=2)
    async with double_worker(time_skipping_env.client, settings, double):
        handle = await start_batch(time_skipping_env.client, inp, settings)
        seen = None
        for _ in range(50):
            seen = await handle.query(BatchWorkflow.progress)
            if seen.total:
                break
        result = await wait_batch(handle)
        final = await handle.query(BatchWorkflow.progress)
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
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    make_tree(tmp_path / "in", 2)
    result = await run_batch(time_skipping_env, tmp_path, ProcessDouble(), pattern="*.pdf")
    assert result.total == 0 and result.completed == 0
    assert "no file" in result.warnings[0]


async def test_a_missing_directory_is_a_validation_error(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        await run_batch(time_skipping_env, tmp_path, ProcessDouble())


async def test_a_method_that_takes_no_file_is_refused_before_starting(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    make_tree(tmp_path / "in", 1)
    with pytest.raises(ValidationError, match="cannot use method 'llm/embed'"):
        await run_batch(time_skipping_env, tmp_path, ProcessDouble(), method="llm/embed")


async def test_histories_replay_deterministically(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    names = make_tree(tmp_path / "in", 40)
    settings = batch_settings(tmp_path)
    double = ProcessDouble(fail_always={names[2]}, slow={names[0]: 0.2})
    inp = BatchInput(directory=str(tmp_path / "in"), max_concurrent=7, files_per_run=25)
    client = time_skipping_env.client
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
