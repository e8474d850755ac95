"""DagWorkflow semantics on the time-skipping test server (or the server ``--workflow-environment``
names), with activity doubles.

Timers and retry backoffs of hours complete at once on the time-skipping server (those tests are
marked ``time_skipping`` and always run there); the doubles record what ran when, so the
tests assert on scheduling (deps, parallelism cap, priority), retries, timeouts, failure and cancel.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHandle
from temporalio.testing import WorkflowEnvironment

from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.config import Settings
from gleitzeit.contracts.dag import DagResult
from gleitzeit.contracts.spec import RetrySpec, TaskSpec, WorkflowSpec
from gleitzeit.contracts.tasks import has_deferred, offloaded_ref
from gleitzeit.core.errors import (
    TaskExecutionError,
    TimeoutError,
    WorkflowCancelledError,
)
from gleitzeit.worker.build import build_worker
from gleitzeit.workflows.dag import DagWorkflow
from tests.helpers import until
from tests.workflows.doubles import ScriptedActivities, Step, fail, ok

pytestmark = pytest.mark.timeout(120)


def task(task_id: str, *deps: str, method: str = "llm/chat", **kw: Any) -> TaskSpec:
    params = kw.pop("parameters", {"model": "m", "messages": [{"role": "user", "content": task_id}]})
    return TaskSpec(id=task_id, method=method, parameters=params, dependencies=list(deps), **kw)


def spec(*tasks: TaskSpec, **kw: Any) -> WorkflowSpec:
    return WorkflowSpec(name=kw.pop("name", "test pipeline"), tasks=list(tasks), **kw)


class Harness:
    def __init__(self, env: WorkflowEnvironment, acts: ScriptedActivities) -> None:
        self.env = env
        self.acts = acts
        # Sandboxed on purpose: these tests are where the workflow code's determinism is checked
        # (production workers run without the sandbox; see gleitzeit.worker.build.workflow_runner).
        self.settings = Settings(task_queue=f"tq-{uuid.uuid4()}", workflow_sandbox=True)

    def worker(self) -> Any:
        return build_worker(self.env.client, self.settings, activities=self.acts.activities())

    async def start(self, wf: WorkflowSpec, inputs: dict[str, Any] | None = None) -> WorkflowHandle[Any, Any]:
        return await start_pipeline(self.env.client, wf, inputs or {}, self.settings)

    async def run(self, wf: WorkflowSpec, inputs: dict[str, Any] | None = None) -> DagResult:
        async with self.worker():
            return await wait_result(await self.start(wf, inputs))


@pytest.fixture
def acts() -> ScriptedActivities:
    return ScriptedActivities()


@pytest.fixture
def h(workflow_env: WorkflowEnvironment, acts: ScriptedActivities) -> Harness:
    return Harness(workflow_env, acts)


async def test_results_flow_between_tasks(h: Harness) -> None:
    wf = spec(
        task("a"),
        task(
            "p",
            "a",
            method="python/execute",
            parameters={"code": "print(1)", "context": {"text": "${a.response}", "n": "${inputs.n}"}},
        ),
        task("b", "p", parameters={"model": "m", "prompt": "n=${p.result.params.context.n}"}),
        outputs={"final": "${b.response}", "text": "${p.result.params.context.text}"},
    )
    result = await h.run(wf, {"n": 7})
    assert result.status == "completed"
    p_params = h.acts.calls_for("p")[0].parameters
    assert p_params["context"] == {"text": "answer of a", "n": 7}  # whole-string reference keeps the int
    assert h.acts.calls_for("b")[0].parameters["prompt"] == "n=7"
    assert result.outputs == {"final": "answer of b", "text": "answer of a"}
    assert [t.state for t in result.tasks] == ["completed"] * 3


async def test_task_starts_when_its_own_dependencies_are_done(h: Harness) -> None:
    h.acts.plan("slow", Step(sleep=1.5, result={"response": "s"}))
    wf = spec(task("slow"), task("fast"), task("after_fast", "fast"), task("join", "slow", "after_fast"))
    await h.run(wf)
    after_fast = h.acts.calls_for("after_fast")[0]
    slow = h.acts.calls_for("slow")[0]
    assert after_fast.ended is not None and slow.ended is not None
    # Not level by level: the second level's task ran while the first level's slow task still ran.
    assert after_fast.ended < slow.ended
    assert h.acts.calls_for("join")[0].started >= slow.ended


async def test_max_parallel_caps_running_tasks(h: Harness) -> None:
    for i in range(8):
        h.acts.plan(f"t{i}", Step(sleep=0.3, result={"response": str(i)}))
    await h.run(spec(*[task(f"t{i}") for i in range(8)], max_parallel=3))
    assert h.acts.peak == 3
    assert len(h.acts.calls) == 8


async def test_priority_orders_ready_tasks_under_the_cap(h: Harness) -> None:
    wf = spec(
        task("low", priority=0),
        task("normal", priority=1),
        task("urgent", priority=3),
        task("high", priority=2),
        max_parallel=1,
    )
    await h.run(wf)
    assert h.acts.started_order() == ["urgent", "high", "normal", "low"]


@pytest.mark.time_skipping  # retry backoffs of minutes to hours
async def test_hour_long_backoffs_finish_at_once(h: Harness) -> None:
    h.acts.plan("a", fail(), fail(), ok(response="third time"))
    wf = spec(task("a", retry=RetrySpec(max_attempts=5, backoff="fixed", base_delay=3600, max_delay=7200)))
    result = await h.run(wf)
    assert result.results["a"]["response"] == "third time"
    assert [c.attempt for c in h.acts.calls_for("a")] == [1, 2, 3]


@pytest.mark.time_skipping  # retry backoffs of minutes to hours
async def test_linear_backoff_with_jitter_retries(h: Harness) -> None:
    h.acts.plan("a", fail(), fail(), ok(response="ok"))
    wf = spec(task("a", retry=RetrySpec(max_attempts=3, backoff="linear", base_delay=1800, jitter=True)))
    assert (await h.run(wf)).results["a"]["response"] == "ok"


@pytest.mark.time_skipping  # retry backoffs of minutes to hours
async def test_retries_exhausted_names_task_attempts_and_cause(h: Harness) -> None:
    h.acts.plan("a", fail("server said 503"))
    wf = spec(task("a", retry=RetrySpec(max_attempts=3, base_delay=600)))
    with pytest.raises(TaskExecutionError) as info:
        await h.run(wf)
    err = info.value
    assert err.task_id == "a"
    assert err.attempts == 3
    assert err.cause_type == "LLMServerError"
    assert "server said 503" in str(err) and "after 3 attempts" in str(err)
    assert len(h.acts.calls_for("a")) == 3


async def test_non_retryable_failure_stops_at_once(h: Harness) -> None:
    h.acts.plan("bad", fail("model 'nope' not found", non_retryable=True, error_type="ModelNotFound"))
    h.acts.plan("other", Step(forever=True))
    wf = spec(task("other"), task("bad", retry=RetrySpec(max_attempts=5)))
    with pytest.raises(TaskExecutionError) as info:
        await h.run(wf)
    assert info.value.task_id == "bad"
    assert info.value.cause_type == "ModelNotFound"
    assert len(h.acts.calls_for("bad")) == 1
    # The other running task was cancelled, not left behind.
    await until(lambda: "other" in h.acts.cancelled, "the running task 'other' was cancelled")


@pytest.mark.time_skipping  # retry backoffs of minutes to hours
async def test_attempt_timeout_is_enforced_and_retried(h: Harness) -> None:
    h.acts.plan("a", Step(sleep=30))
    wf = spec(task("a", timeout=1, retry=RetrySpec(max_attempts=2, base_delay=3600)))
    with pytest.raises(TaskExecutionError) as info:
        await h.run(wf)
    assert info.value.cause_type == "Timeout"
    assert len(h.acts.calls_for("a")) == 2


async def test_workflow_timeout_cancels_running_tasks(h: Harness) -> None:
    h.acts.plan("forever", Step(forever=True))
    wf = spec(task("quick"), task("forever"), timeout=2)
    with pytest.raises(TimeoutError) as info:
        await h.run(wf)
    assert "timed out after 2 s" in str(info.value)
    assert "quick" in info.value.partial_results
    await until(lambda: "forever" in h.acts.cancelled, "the running task 'forever' was cancelled")


async def test_on_error_continue_skips_dependents_and_finishes_partial(h: Harness) -> None:
    h.acts.plan("a", fail("bad input", non_retryable=True, error_type="InvalidParameters"))
    wf = spec(task("a", on_error="continue"), task("b", "a"), task("c", "b"), task("d"))
    result = await h.run(wf)
    states = {t.task_id: t.state for t in result.tasks}
    assert states == {"a": "failed", "b": "skipped", "c": "skipped", "d": "completed"}
    assert result.status == "partial"
    by_id = {t.task_id: t for t in result.tasks}
    assert by_id["b"].reason == "dependency 'a' failed"
    assert by_id["c"].reason == "dependency 'b' skipped"
    assert "bad input" in (by_id["a"].error or "")


async def test_dependents_of_a_failure_are_skipped_while_every_slot_is_taken(h: Harness) -> None:
    # a fails at once; its slot goes to c, so every slot is taken again when d (after a) comes up:
    # d must be skipped then, not when a slot frees after b and c (scheduling looks at the tasks with
    # dependencies only, from where it had got to, once the slots are full).
    h.acts.plan("a", fail("bad input", non_retryable=True, error_type="InvalidParameters"))
    for slow in ("b", "c"):
        h.acts.plan(slow, Step(sleep=1.0, result={"response": slow}))
    wf = spec(task("a", on_error="continue"), task("b"), task("c"), task("d", "a"), task("e"), max_parallel=2)
    result = await h.run(wf)
    by_id = {t.task_id: t for t in result.tasks}
    assert {k: t.state for k, t in by_id.items()} == {
        "a": "failed",
        "b": "completed",
        "c": "completed",
        "d": "skipped",
        "e": "completed",
    }
    assert by_id["d"].reason == "dependency 'a' failed"
    d_ended, b_ended = by_id["d"].ended_at, by_id["b"].ended_at
    assert d_ended is not None and b_ended is not None and d_ended < b_ended
    assert sorted(h.acts.started_order()) == ["a", "b", "c", "e"]


async def test_when_false_skips_task_and_its_dependents(h: Harness) -> None:
    wf = spec(
        task("a"),
        task("b", "a", when="${a.response} == 'something else'"),
        task("c", "b"),
        task("d", "a", when="${a.response} == 'answer of a'"),
        outputs={"b": "${b.response}", "d": "${d.response}"},
    )
    result = await h.run(wf)
    states = {t.task_id: t.state for t in result.tasks}
    assert states == {"a": "completed", "b": "skipped", "c": "skipped", "d": "completed"}
    assert result.outputs == {"b": None, "d": "answer of d"}
    assert [c.task_id for c in h.acts.calls] == ["a", "d"]


async def test_unresolvable_reference_fails_the_task(h: Harness) -> None:
    wf = spec(
        task("p", method="python/execute", parameters={"code": "x"}),
        task("b", "p", parameters={"model": "m", "prompt": "${p.result.missing.key}"}),
    )
    with pytest.raises(TaskExecutionError) as info:
        await h.run(wf)
    assert info.value.task_id == "b"
    assert info.value.cause_type == "ValidationError"
    assert "p" in info.value.partial_results


async def test_cancel_cancels_running_and_keeps_finished_results(h: Harness) -> None:
    h.acts.plan("forever", Step(forever=True))
    wf = spec(task("quick"), task("forever"))
    async with h.worker():
        handle = await h.start(wf)

        async def one_done_one_running() -> bool:
            progress = await handle.query(DagWorkflow.progress)
            return progress.completed == 1 and progress.running == 1

        await until(one_done_one_running, "'quick' completed while 'forever' runs")
        await handle.cancel()
        with pytest.raises(WorkflowCancelledError):
            await wait_result(handle)
        kept = await handle.query(DagWorkflow.results)
        final = await handle.query(DagWorkflow.progress)
    assert kept == {"quick": {"response": "answer of quick", "model": "double", "tokens_used": 3}}
    assert {t.task_id: t.state for t in final.tasks} == {"quick": "completed", "forever": "cancelled"}
    assert final.status == "cancelled"
    assert "forever" in h.acts.cancelled


async def test_progress_query_reports_live_states(h: Harness) -> None:
    h.acts.plan("b", Step(sleep=1.0, result={"response": "b"}))
    wf = spec(task("a"), task("b", "a"), task("c", "b"))
    async with h.worker():
        handle = await h.start(wf)
        seen: set[tuple[str, str]] = set()
        while True:
            progress = await handle.query(DagWorkflow.progress)
            seen.update((t.task_id, t.state) for t in progress.tasks)
            if progress.status != "running":
                break
            await asyncio.sleep(0.1)
        await wait_result(handle)
    assert ("b", "running") in seen and ("c", "pending") in seen
    assert progress.completed == 3 and progress.total == 3


async def test_oversized_results_are_left_out_of_the_workflow_result(h: Harness) -> None:
    big = "x" * 600_000
    for i in range(3):
        h.acts.plan(f"t{i}", ok(response=big + str(i)))
    result = await h.run(spec(task("t0"), task("t1"), task("t2"), outputs={"small": "${t0.model}"}))
    omitted = [k for k, v in result.results.items() if v.get("$omitted")]
    assert omitted and result.warnings
    assert len(result.model_dump_json()) < 1_600_000
    assert result.status == "completed"


async def test_many_tasks_with_in_flight_cap(h: Harness) -> None:
    n = 300
    wf = spec(*[task(f"t{i}") for i in range(n)], max_parallel=40)
    result = await h.run(wf)
    assert len(result.results) == n
    assert h.acts.peak <= 40


async def test_offloaded_results_reach_later_tasks_and_refuse_conditions(h: Harness, tmp_path: Path) -> None:
    # A low threshold on the real interceptor: the double's 5 KB answer is stored under tmp_path.
    h.settings = h.settings.model_copy(update={"data_dir": tmp_path, "offload_threshold_bytes": 2048})
    text = "y" * 5000
    h.acts.plan("big", ok(response=text, model="double"))
    message = {"role": "user", "content": "say: ${big.response}"}
    wf = spec(
        task("big"),
        task("use", "big", parameters={"model": "m", "messages": [message]}),
        outputs={"model": "${big.model}"},
    )
    result = await h.run(wf)
    assert offloaded_ref(result.results["big"]) is not None
    (call,) = h.acts.calls_for("use")
    assert call.parameters["messages"][0]["content"] == "say: " + text  # resolved before the activity ran
    assert has_deferred(result.outputs)  # the client loads it (tests/activities/test_offload.py)
    # A foreach item's result: its marker stands in the task's lists and reaches a later task loaded.
    h.acts.plan("fan[1]", ok(response=text, model="double"))
    message = {"role": "user", "content": "${item}"}
    fan = spec(
        task("fan", foreach=["a", "b"], parameters={"model": "m", "messages": [message]}),
        task("join", "fan", parameters={"model": "m", "messages": [], "stop": "${fan.result}"}),
    )
    result = await h.run(fan)
    assert offloaded_ref(result.results["fan"]["results"][1]) is not None
    (call,) = h.acts.calls_for("join")
    assert call.parameters["stop"] == ["answer of fan[0]", text]
    # A condition is decided in the workflow, which reads no blob: the task fails saying what to do.
    gate = spec(task("big"), task("gate", "big", when="${big.model} == 'double'"))
    with pytest.raises(TaskExecutionError) as info:
        await h.run(gate)
    assert info.value.task_id == "gate"
    assert "offloaded" in str(info.value) and "GLEITZEIT_OFFLOAD_THRESHOLD_BYTES" in str(info.value)
