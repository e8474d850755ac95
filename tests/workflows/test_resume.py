"""Resuming a run: the plan (pure) and DagWorkflow's carried tasks on the time-skipping server.

A carried task is completed from the start with the earlier run's result and no activity; tasks
reading it resolve their references against that result; ``origin`` says carried or ran.
"""

from __future__ import annotations

from typing import Any

import pytest

from gleitzeit.client.resume_plan import plan_carry, task_fingerprints
from gleitzeit.contracts.dag import DagInput
from gleitzeit.contracts.spec import InputSpec, WorkflowSpec
from gleitzeit.core.errors import ValidationError
from gleitzeit.workflows.dag import DagWorkflow
from tests.workflows.test_dag import Harness, acts, spec, task  # noqa: F401  (acts: a fixture)
from tests.workflows.test_dag import h as h  # the fixture, under its own name

pytestmark = pytest.mark.timeout(120)


def chain() -> WorkflowSpec:
    return WorkflowSpec(
        name="chain",
        inputs={"topic": InputSpec(type="string", default="rivers")},
        tasks=[
            task("a", parameters={"model": "m", "prompt": "about ${inputs.topic}"}),
            task("b", "a", parameters={"model": "m", "prompt": "more on ${a.response}"}),
            task("c", "b"),
            task("d", "c"),
            task("e"),
        ],
    )


def plan(wf: WorkflowSpec, completed: dict[str, Any], **kw: Any) -> Any:
    prints = task_fingerprints(wf, {"topic": "rivers"})
    return plan_carry(
        "old", wf, {"topic": "rivers"}, completed, old_fingerprints=prints, new_fingerprints=prints, **kw
    )


def test_plan_carries_completed_tasks_and_runs_the_rest_with_dependents() -> None:
    wf = chain()
    done = {"a": {"response": "A"}, "b": {"response": "B"}, "e": {"response": "E"}}
    p = plan(wf, done, states={"c": "failed", "d": "skipped"}).plan
    assert p.carried == ["a", "b", "e"]
    assert p.to_run == ["c", "d"]
    assert p.reasons == {"c": "failed in old", "d": "skipped in old"}

    p = plan(wf, {**done, "c": {}, "d": {}}, from_tasks=["b"]).plan
    assert p.carried == ["a", "e"] and p.to_run == ["b", "c", "d"]
    assert p.reasons["b"] == "named by --from" and p.reasons["d"] == "depends on 'c'"

    # An input given again re-runs its readers (and theirs), whatever its value.
    p = plan(wf, {**done, "c": {}, "d": {}}, overridden=["topic"]).plan
    assert p.to_run == ["a", "b", "c", "d"] and "input 'topic'" in p.reasons["a"]


def test_plan_reruns_a_changed_task_and_refuses_an_unknown_from() -> None:
    wf = chain()
    edited = wf.model_copy(
        update={"tasks": [*wf.tasks[:4], task("e", parameters={"model": "m", "prompt": "changed"})]}
    )
    done = {t.id: {"response": t.id} for t in wf.tasks}
    prints = task_fingerprints(wf, {"topic": "rivers"})
    p = plan_carry(
        "old",
        edited,
        {"topic": "rivers"},
        done,
        old_fingerprints=prints,
        new_fingerprints=task_fingerprints(edited, {"topic": "rivers"}),
    ).plan
    assert p.to_run == ["e"] and "definition changed" in p.reasons["e"]
    with pytest.raises(ValidationError) as caught:
        plan(wf, done, from_tasks=["cc"])
    assert caught.value.problems[0].code == "unknown-task"
    assert "did you mean 'c'" in str(caught.value)


def test_fingerprint_follows_a_files_content(tmp_path: Any) -> None:
    script = tmp_path / "s.py"
    script.write_text("print(1)")
    wf = spec(task("s", method="python/execute", parameters={"file": "s.py"}), base_dir=str(tmp_path))
    before = task_fingerprints(wf, {})
    script.write_text("print(2)")
    assert task_fingerprints(wf, {}) != before
    assert task_fingerprints(wf, {}, files=False) == task_fingerprints(wf, {}, files=False)


async def test_carried_tasks_complete_without_activities(h: Harness) -> None:
    wf = chain()
    carried = {"a": {"response": "A!"}, "b": {"response": "B!"}}
    async with h.worker():
        handle = await h.env.client.start_workflow(
            DagWorkflow.run,
            DagInput(spec=wf, inputs={"topic": "rivers"}, carried=carried, resumed_from="old-run"),
            id=f"resume-{h.settings.task_queue}",
            task_queue=h.settings.task_queue,
        )
        result = await handle.result()
    assert sorted(c.task_id for c in h.acts.calls) == ["c", "d", "e"]
    assert result.results["a"] == {"response": "A!"}
    origins = {t.task_id: (t.state, t.origin) for t in result.tasks}
    assert origins["a"] == ("completed", "carried") and origins["b"] == ("completed", "carried")
    assert origins["c"] == ("completed", "ran")
    # c reads b: the carried result, not an activity's.
    assert result.status == "completed"
