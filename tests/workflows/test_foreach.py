"""``foreach:`` tasks in DagWorkflow, with the activity doubles: one activity per item (id
``task[index]``), results in item order, max_concurrent and max_parallel, item failure, per-item retry."""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from gleitzeit.contracts.spec import MAX_FOREACH_ITEMS, RetrySpec
from gleitzeit.core.errors import TaskExecutionError
from tests.workflows.doubles import ScriptedActivities, Step, fail, ok
from tests.workflows.test_dag import Harness, spec, task

pytestmark = pytest.mark.timeout(120)

PY = "python/execute"


@pytest.fixture
def acts() -> ScriptedActivities:
    return ScriptedActivities()


@pytest.fixture
def h(workflow_env: WorkflowEnvironment, acts: ScriptedActivities) -> Harness:
    return Harness(workflow_env, acts)


def each(task_id: str, foreach: Any, *deps: str, **kw: Any) -> Any:
    params = kw.pop("parameters", {"code": "print(1)", "context": {"x": "${item}", "i": "${item_index}"}})
    return task(task_id, *deps, method=PY, parameters=params, foreach=foreach, **kw)


async def test_inline_list_runs_once_per_item_in_order(h: Harness) -> None:
    wf = spec(
        each("sq", [3, {"n": 4}, "five"]),
        task("after", "sq", parameters={"model": "m", "prompt": "${sq[1].params.context.x.n} ${sq.count}"}),
        outputs={"all": "${sq}", "one": "${sq.results[2].result.params.context.x}"},
    )
    result = await h.run(wf)
    assert result.status == "completed"
    assert [h.acts.calls_for(f"sq[{i}]")[0].parameters["context"] for i in range(3)] == [
        {"x": 3, "i": 0},
        {"x": {"n": 4}, "i": 1},
        {"x": "five", "i": 2},
    ]
    assert [r["params"]["context"]["i"] for r in result.outputs["all"]] == [0, 1, 2]
    assert result.outputs["one"] == "five"
    assert h.acts.calls_for("after")[0].parameters["prompt"] == "4 3"
    sq = next(t for t in result.tasks if t.task_id == "sq")
    assert (sq.state, sq.items, sq.items_completed, sq.items_failed) == ("completed", 3, 3, 0)


async def test_reference_list_waits_for_its_task_and_per_item_when(h: Harness) -> None:
    h.acts.plan("load", ok(result={"items": ["a", "b", "c", "d"]}, output="", exit_code=0))
    wf = spec(
        task("load", method=PY, parameters={"code": "print(1)"}),
        each("odd", "${load.result.items}", "load", when="${item_index} != 2"),
        each("none", "${load.result.empty}", "load", on_error="continue"),
    )
    result = await h.run(wf)
    odd_calls = sorted(
        (c.task_id, c.parameters["context"]["x"]) for c in h.acts.calls if c.task_id.startswith("odd")
    )
    assert odd_calls == [("odd[0]", "a"), ("odd[1]", "b"), ("odd[3]", "d")]
    assert result.results["odd"]["result"][2] is None and result.results["odd"]["count"] == 4
    odd = next(t for t in result.tasks if t.task_id == "odd")
    assert (odd.items_completed, odd.items_skipped) == (3, 1)
    # A reference that does not resolve to a list fails the task, clearly.
    none = next(t for t in result.tasks if t.task_id == "none")
    assert none.state == "failed" and "no field 'empty'" in (none.error or "")
    assert result.status == "partial"


async def test_max_concurrent_and_max_parallel_cap_items(h: Harness) -> None:
    h.acts.default = lambda inp: {"result": inp.task_id, "output": "", "exit_code": 0}
    for i in range(6):
        h.acts.plan(f"a[{i}]", Step(sleep=0.3, result={"result": i}))
    result = await h.run(spec(each("a", list(range(6)), max_concurrent=2)))
    assert h.acts.peak == 2
    assert result.results["a"]["result"] == [0, 1, 2, 3, 4, 5]

    h.acts.peak = 0
    for t in ("b", "c"):
        for i in range(4):
            h.acts.plan(f"{t}[{i}]", Step(sleep=0.3, result={"result": i}))
    await h.run(spec(each("b", list(range(4)), max_concurrent=4), each("c", list(range(4))), max_parallel=3))
    assert h.acts.peak == 3


async def test_item_failure_fails_the_task_naming_the_item(h: Harness) -> None:
    h.acts.plan("t[1]", fail("bad item", non_retryable=True, error_type="ScriptError"))
    with pytest.raises(TaskExecutionError) as info:
        await h.run(spec(each("t", [1, 2, 3], max_concurrent=1)))
    assert info.value.task_id == "t"
    assert "item 1 failed" in str(info.value) and "bad item" in str(info.value)
    assert not h.acts.calls_for("t[2]")  # the task stopped at its failed item


async def test_item_failure_with_on_error_continue_keeps_the_others(h: Harness) -> None:
    h.acts.plan("t[0]", fail("bad item", non_retryable=True, error_type="ScriptError"))
    result = await h.run(spec(each("t", [1, 2], on_error="continue"), task("next", "t")))
    assert result.status == "partial"
    r = result.results["t"]
    assert r["result"][0] is None and r["result"][1]["params"]["context"]["x"] == 2
    assert r["errors"] == [{"index": 0, "error": "bad item", "error_type": "ScriptError", "attempts": 1}]
    t = next(t for t in result.tasks if t.task_id == "t")
    assert t.state == "completed" and t.items_failed == 1 and "1 of 2 items failed" in (t.error or "")
    assert "next" in result.results  # dependents run on the partial list


@pytest.mark.time_skipping  # retry backoffs of minutes
async def test_retries_apply_per_item(h: Harness) -> None:
    h.acts.plan("t[1]", fail(), fail(), Step(result={"result": "third"}))
    wf = spec(each("t", ["a", "b", "c"], retry=RetrySpec(max_attempts=3, base_delay=60)))
    result = await h.run(wf)
    assert [c.attempt for c in h.acts.calls_for("t[1]")] == [1, 2, 3]
    assert [len(h.acts.calls_for(f"t[{i}]")) for i in (0, 2)] == [1, 1]
    assert result.results["t"]["result"][1] == "third"


async def test_a_referenced_list_over_the_limit_fails_with_a_hint(h: Harness) -> None:
    h.acts.plan("load", ok(result=list(range(MAX_FOREACH_ITEMS + 1)), output="", exit_code=0))
    wf = spec(task("load", method=PY, parameters={"code": "print(1)"}), each("t", "${load}", "load"))
    with pytest.raises(TaskExecutionError) as info:
        await h.run(wf)
    assert info.value.task_id == "t"
    assert f"over the limit of {MAX_FOREACH_ITEMS:,}" in str(info.value) and "batch" in str(info.value)
    assert not [c for c in h.acts.calls if c.task_id.startswith("t[")]
