"""A python task's ``retry`` block applies to its script's own failure and timeout (issue 18).

Workflow tests on the time-skipping server with activity doubles that fail the way the real
``python.execute`` activity does (``ScriptError`` / ``ScriptTimeout`` raised retryable, so the
task's RetryPolicy decides). The real activity on a real worker is in
``tests/integration/test_script_retries.py``.
"""

from __future__ import annotations

from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from gleitzeit.contracts.spec import RetrySpec, TaskSpec
from gleitzeit.core.errors import TaskExecutionError
from gleitzeit.executors.errors import ScriptFailure
from gleitzeit.workflows.policies import (
    NON_RETRYABLE_TYPES,
    SCRIPT_RETRYABLE_TYPES,
    activity_options,
    non_retryable_types,
)
from tests.workflows.doubles import ScriptedActivities, Step, fail, ok
from tests.workflows.test_dag import Harness, spec, task

pytestmark = pytest.mark.timeout(120)

SCRIPT = {"code": "raise SystemExit(1)"}


def script_task(task_id: str, **kw: Any) -> TaskSpec:
    return task(task_id, method="python/execute", parameters=SCRIPT, **kw)


def script_error(message: str = "script failed with exit code 1", error_type: str = "ScriptError") -> Step:
    # As the real activity raises it: retryable, the workflow's policy decides.
    return fail(message, error_type=error_type)


@pytest.fixture
def acts() -> ScriptedActivities:
    return ScriptedActivities()


@pytest.fixture
def h(workflow_env: WorkflowEnvironment, acts: ScriptedActivities) -> Harness:
    return Harness(workflow_env, acts)


def _subclasses(cls: type[ScriptFailure]) -> list[type[ScriptFailure]]:
    return [cls, *(sub for child in cls.__subclasses__() for sub in _subclasses(child))]


def test_the_activity_and_the_policy_agree_on_what_a_retry_can_fix() -> None:
    retryable = {c.kind for c in _subclasses(ScriptFailure) if c.retryable}
    assert retryable == set(SCRIPT_RETRYABLE_TYPES)
    assert "ScriptOOM" in NON_RETRYABLE_TYPES and "ScriptNotFound" in NON_RETRYABLE_TYPES


def test_without_a_retry_block_the_policy_is_unchanged() -> None:
    # Recorded histories hold these RetryPolicies: a task without `retry` must keep them exactly.
    for t in (script_task("p"), task("l"), task("l", retry=RetrySpec(max_attempts=4))):
        assert activity_options(t).retry_policy.non_retryable_error_types == NON_RETRYABLE_TYPES
    declared = non_retryable_types(script_task("p", retry=RetrySpec(max_attempts=3)))
    assert not set(SCRIPT_RETRYABLE_TYPES) & set(declared)
    assert {"ScriptOOM", "ScriptBadOutput", "ScriptNotFound", "InvalidParameters"} <= set(declared)


@pytest.mark.time_skipping  # retry backoffs
async def test_a_declared_retry_reruns_a_failing_script(h: Harness) -> None:
    h.acts.plan("p", script_error(), script_error("timed out", "ScriptTimeout"), ok(result={"ok": True}))
    result = await h.run(spec(script_task("p", retry=RetrySpec(max_attempts=3, base_delay=60))))
    assert result.results["p"]["result"] == {"ok": True}
    assert [c.attempt for c in h.acts.calls_for("p")] == [1, 2, 3]


async def test_without_retry_a_failing_script_runs_once(h: Harness) -> None:
    h.acts.plan("p", script_error(), ok())
    with pytest.raises(TaskExecutionError) as info:
        await h.run(spec(script_task("p")))
    assert info.value.cause_type == "ScriptError"
    assert len(h.acts.calls_for("p")) == 1


async def test_a_missing_script_is_not_retried_despite_retry(h: Harness) -> None:
    # Raised retryable here on purpose: the workflow's policy alone must stop it (the real activity
    # also marks it final).
    h.acts.plan("p", script_error("script not found: nope.py", "ScriptNotFound"), ok())
    with pytest.raises(TaskExecutionError) as info:
        await h.run(spec(script_task("p", retry=RetrySpec(max_attempts=3, base_delay=60))))
    assert info.value.cause_type == "ScriptNotFound"
    assert len(h.acts.calls_for("p")) == 1
