"""The ``python.execute`` activity: error types for Temporal, heartbeats, cancellation, fallback."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import re
from typing import Any

import psutil
import pytest
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.testing import ActivityEnvironment

import gleitzeit.executors.docker as docker_executor
import gleitzeit.executors.runner as runner
from gleitzeit.activities.python import PythonActivities
from gleitzeit.config import Settings
from gleitzeit.contracts.tasks import PythonResult, TaskInput
from gleitzeit.workflows.policies import SCRIPT_RETRYABLE_TYPES
from tests.executors import scripts
from tests.helpers import until

SETTINGS = Settings(executor="local")


def task(**parameters: Any) -> TaskInput:
    parameters.setdefault("executor", "local")
    return TaskInput(
        workflow_id="wf", run_id="r", task_id="step", method="python/execute", parameters=parameters
    )


async def execute(inp: TaskInput, env: ActivityEnvironment | None = None) -> PythonResult:
    env = env or ActivityEnvironment()
    return await env.run(PythonActivities(SETTINGS).execute, inp)


async def test_a_result_comes_back_and_the_activity_heartbeats(quick_heartbeats: float) -> None:
    env = ActivityEnvironment()
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    result = await execute(task(code="import time; time.sleep(0.5); print('{\"ok\": 1}')"), env)
    assert result.result == {"ok": 1}
    assert beats and beats[0][0]["executor"] == "local"


async def test_a_script_done_within_the_first_interval_sends_no_heartbeat() -> None:
    # The SDK sends an activity's first heartbeat to the server at once: one call per task saved.
    env = ActivityEnvironment()
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    result = await execute(task(code="print('{\"ok\": 1}')"), env)
    assert result.result == {"ok": 1}
    assert beats == []


@pytest.mark.parametrize(
    ("parameters", "error_type"),
    [
        ({"code": scripts.FAILS}, "ScriptError"),
        ({"code": scripts.SLEEP_FOREVER, "timeout": 1}, "ScriptTimeout"),
        ({"code": "raise MemoryError"}, "ScriptOOM"),
        ({"code": scripts.BAD_JSON}, "ScriptBadOutput"),
        ({"file": "does/not/exist.py"}, "ScriptNotFound"),
        ({"code": "x", "timeout": -1}, "InvalidParameters"),
    ],
)
async def test_script_failures_are_typed_application_errors(
    parameters: dict[str, Any], error_type: str
) -> None:
    with pytest.raises(ApplicationError) as caught:
        await execute(task(**parameters))
    error = caught.value
    assert error.type == error_type
    # A script's own failure and its timeout are left to the task's RetryPolicy (retried only when the
    # task declares `retry`); everything else is final whatever the policy says.
    assert error.non_retryable is (error_type not in SCRIPT_RETRYABLE_TYPES)
    assert set(error.details[0]) == {"exit_code", "stderr_tail", "executor"}
    if error_type == "ScriptError":
        assert error.details[0]["exit_code"] == 7
        assert "about to fail" in error.details[0]["stderr_tail"]
        assert "about to fail" in error.message


async def test_the_task_timeout_bounds_the_script_timeout() -> None:
    inp = task(code=scripts.SLEEP_FOREVER).model_copy(update={"timeout": 3.0})
    with pytest.raises(ApplicationError, match=r"timed out after 2\.4 s") as caught:
        await execute(inp)
    assert caught.value.type == "ScriptTimeout"


async def test_cancelling_the_activity_kills_the_script(quick_heartbeats: float) -> None:
    env = ActivityEnvironment()
    env.info = dataclasses.replace(env.info, heartbeat_timeout=None)
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    running = asyncio.create_task(execute(task(code=scripts.CHILD_THEN_HANG, timeout=60), env))
    await until(lambda: beats or running.done(), "the activity's first heartbeat")
    pid = beats[0][0]["pid"]
    await until(lambda: psutil.Process(pid).children(recursive=True), "the script started its child")
    children = [p.pid for p in psutil.Process(pid).children(recursive=True)]
    env.cancel()
    with pytest.raises((CancelledError, asyncio.CancelledError)):
        await running
    for p in [pid, *children]:
        assert await _gone(p), f"process {p} survived the cancellation"


async def test_an_unreachable_engine_is_retryable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setattr(docker_executor, "_client", None)
    with pytest.raises(ApplicationError) as caught:
        await execute(task(code="print(1)", executor="docker"))
    assert caught.value.type == "DockerUnavailable"
    assert caught.value.non_retryable is False


async def test_auto_falls_back_to_local_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    monkeypatch.setattr(docker_executor, "_status_cache", {})
    monkeypatch.setattr(runner, "_last_warning", -1e9)
    with caplog.at_level(logging.WARNING, logger="gleitzeit.executors"):
        result = await execute(task(code="print(1)", executor="auto"))
    assert result.executor == "local" and result.result == 1
    assert any(
        r.levelno == logging.WARNING and re.search("UNSANDBOXED", r.getMessage()) for r in caplog.records
    )


async def _gone(pid: int) -> bool:
    for _ in range(50):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        await asyncio.sleep(0.1)
    return False
