"""What validates must be startable: a Hypothesis property over generated pipelines.

Anything ``validate_workflow`` accepts, ``start_pipeline`` starts and the run ends (completed, or
failed the way the pipeline says) without one failed workflow task: no value that passes validation
can poison the run. The pipelines mix ordinary values with hostile ones (numbers past every range,
infinities, durations of 1e30 s, sizes of 99999999999999g, control characters in ids, deep
dependencies); the activities are doubles that succeed, on the time-skipping server, so timers cost
nothing. (Scripted failures are left out: when a task fails while a sibling's activity is
scheduled, the sibling can complete during the workflow task that cancels it; the time-skipping test
server refuses that completion (ACTIVITY_UNKNOWN) and keeps the workflow task STARTED forever, a
test-server bug, see test_cancel_race.py; a real server completes the run. Failure handling is
tested in test_dag.py.) Bounded: 80 examples (~3 s).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.config import Settings
from gleitzeit.core.errors import GleitzeitError
from gleitzeit.dsl import load_workflow, validate_workflow
from gleitzeit.worker.build import build_worker
from tests.workflows.doubles import ScriptedActivities

pytestmark = [pytest.mark.time_skipping, pytest.mark.timeout(300)]

_HUGE = [10**19, 10**38, -(10**19), 2**63, 2**63 - 1, 1e30, float("inf"), float("nan"), -1, 0]


def sometimes(ordinary: st.SearchStrategy[Any], hostile: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly ordinary values, one in six hostile: enough pipelines validate to be run."""
    return st.integers(0, 5).flatmap(lambda k: hostile if k == 0 else ordinary)


numbers = sometimes(st.integers(1, 8), st.one_of(st.sampled_from(_HUGE), st.floats()))
durations = sometimes(
    st.sampled_from([1, 30, 2.5, "5m", "1h30m", "250ms", "PT1H", "2d", "P3650D"]),
    st.one_of(numbers, st.sampled_from(["P4000D", "1e30", "inf", "0.0001s", "", "-5s"])),
)
sizes = sometimes(
    st.sampled_from(["256m", "1t", "6m", "1.5G", 64 * 1024**2]),
    st.one_of(numbers, st.sampled_from(["99999999999999g", "17t", "5k", "1e9g"])),
)
ids = sometimes(
    st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True),
    st.sampled_from(["a\x00b", "x\x1b[2J", "z\x99", "a" * 300, " spaced", "ok.dot"]),
)


def maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A value, or None (the key left out) three times in four."""
    return st.integers(0, 3).flatmap(lambda k: strategy if k == 0 else st.none())


@st.composite
def pipelines(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 4))
    task_ids = draw(st.lists(ids, min_size=n, max_size=n, unique=True))
    tasks: list[dict[str, Any]] = []
    for i, tid in enumerate(task_ids):
        params: dict[str, Any] = {"code": "print(1)"}
        for key, strategy in (("memory", sizes), ("cpus", numbers), ("timeout", durations)):
            value = draw(maybe(strategy))
            if value is not None:
                params[key] = value
        context = draw(st.dictionaries(st.sampled_from(["n", "x"]), numbers, max_size=2))
        if i and draw(st.booleans()):
            context["prev"] = f"${{{task_ids[i - 1]}.result}}"
        if context:
            params["context"] = context
        task: dict[str, Any] = {"id": tid, "method": "python/execute", "parameters": params}
        for key, strategy in (
            ("timeout", durations),
            ("priority", st.sampled_from(["low", "urgent", 1, 3, 0, 99, "2"])),
            ("on_error", st.sampled_from(["fail", "continue"])),
        ):
            value = draw(maybe(strategy))
            if value is not None:
                task[key] = value
        if draw(maybe(st.just(True))):
            task["retry"] = {
                "max_attempts": draw(sometimes(st.integers(1, 5), st.integers(-1, 120))),
                "base_delay": draw(durations),
                "max_delay": draw(durations),
            }
        if i and draw(st.booleans()):
            task["dependencies"] = [task_ids[draw(st.integers(0, i - 1))]]
        tasks.append(task)
    doc: dict[str, Any] = {"name": draw(st.one_of(st.just("gen"), ids)), "tasks": tasks}
    for key, strategy in (("max_parallel", numbers), ("timeout", durations)):
        value = draw(maybe(strategy))
        if value is not None:
            doc[key] = value
    return doc


class Runs:
    def __init__(self, env: WorkflowEnvironment, acts: ScriptedActivities) -> None:
        self.env, self.acts = env, acts
        self.settings = Settings(task_queue=f"startable-{uuid.uuid4()}", workflow_sandbox=True)
        self.started = 0


@pytest.fixture
async def runs(workflow_env: WorkflowEnvironment) -> AsyncIterator[Runs]:
    acts = ScriptedActivities()
    runs = Runs(workflow_env, acts)
    worker: Worker = build_worker(workflow_env.client, runs.settings, activities=acts.activities())
    async with worker:
        yield runs
    assert runs.started >= 8, "too few generated pipelines validated to say anything"


@settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(doc=pipelines())
async def test_what_validates_starts_and_never_fails_a_workflow_task(runs: Runs, doc: dict[str, Any]) -> None:
    problems = validate_workflow(doc)
    if problems:
        assert all(p.message and p.code for p in problems)
        return
    handle = await start_pipeline(runs.env.client, load_workflow(doc), {}, runs.settings)
    runs.started += 1
    try:
        result = await asyncio.wait_for(wait_result(handle), 60)
    except GleitzeitError as exc:  # the doubles succeed: any failure is a poisoned run
        pytest.fail(f"{type(exc).__name__}: {exc} for {doc}")
    assert result.status == "completed"
    events = [e.event_type async for e in handle.fetch_history_events()]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in events, doc
