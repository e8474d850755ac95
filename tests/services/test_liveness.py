"""A run never waits silently for a worker, and a repeated run does not wait for one that exited.

Real parts: the session's dev server (``local_env``), `gleitzeit run` / `gleitzeit worker` /
`gleitzeit serve` as processes, a worker SIGKILLed a moment before. Each test has a task queue of its
own, so the pollers it sees are its own.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.testing import WorkflowEnvironment

from bench.repeat_runs import PIPELINE
from gleitzeit.client.native import NativeBackend
from gleitzeit.config import Settings
from gleitzeit.services import liveness
from gleitzeit.services.liveness import worker_liveness
from gleitzeit.services.runtime import PROGRESS_GRACE, live_pollers
from gleitzeit.worker.build import build_worker
from tests.helpers import free_port, until, venv_binary

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
# -- judging pollers (no server) ---------------------------------------------------------------------


class _FakeClient:
    namespace = "default"

    class service_client:  # noqa: N801 - mimics the SDK's attribute chain
        class config:  # noqa: N801
            target_host = "127.0.0.1:1"


def _judge(identity: str, age: float = 5.0) -> liveness.PollerState:
    now = datetime.now(UTC)
    return liveness._judge(identity, now - timedelta(seconds=age), now, _FakeClient(), "q")  # type: ignore[arg-type]


def test_pollers_of_this_host_are_judged_by_their_process() -> None:
    host = liveness._HOSTNAME
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = _judge(f"{dead.pid}@{host}", age=1.0)
    assert not gone.alive and "has exited" in gone.why
    # A live process that started after the poll is a reused pid, not the worker.
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"]) as later:
        try:
            assert not _judge(f"{later.pid}@{host}", age=60.0).alive
            assert _judge(f"{os.getppid()}@{host}", age=1.0).alive  # started long before the poll
        finally:
            later.kill()
    # This process counts only while a worker of its own runs there.
    mine = _judge(f"{os.getpid()}@{host}")
    assert not mine.alive and "this process" in mine.why


def test_pollers_of_other_hosts_count_while_fresh() -> None:
    assert _judge("123@elsewhere", age=30).alive
    assert not _judge("123@elsewhere", age=120).alive
    assert not _judge("custom-identity", age=120).alive


def test_a_run_waits_from_its_oldest_due_step_but_not_through_a_backoff() -> None:
    from temporalio.api.enums.v1 import PendingActivityState, PendingWorkflowTaskState
    from temporalio.api.workflowservice.v1 import DescribeWorkflowExecutionResponse

    now = datetime.now(UTC)
    raw = DescribeWorkflowExecutionResponse()
    assert liveness._waiting_since(raw, now) is None
    scheduled, started = (
        PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED,
        PendingActivityState.PENDING_ACTIVITY_STATE_STARTED,
    )
    running = raw.pending_activities.add(state=started)
    running.scheduled_time.FromDatetime(now - timedelta(seconds=60))
    assert liveness._waiting_since(raw, now) is None
    backing_off = raw.pending_activities.add(state=scheduled, attempt=2)
    backing_off.scheduled_time.FromDatetime(now - timedelta(seconds=50))
    backing_off.next_attempt_schedule_time.FromDatetime(now + timedelta(seconds=30))
    assert liveness._waiting_since(raw, now) is None
    due = raw.pending_activities.add(state=scheduled)
    due.scheduled_time.FromDatetime(now - timedelta(seconds=10))
    raw.pending_workflow_task.state = PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED
    raw.pending_workflow_task.scheduled_time.FromDatetime(now - timedelta(seconds=4))
    since = liveness._waiting_since(raw, now)
    assert since is not None and abs((now - since).total_seconds() - 10) < 0.01


# -- real servers -----------------------------------------------------------------------------------


def _env(local_env: WorkflowEnvironment, tmp_path: Path, queue: str) -> dict[str, str]:
    return {
        **os.environ,
        "GLEITZEIT_TEMPORAL_ADDRESS": local_env.client.service_client.config.target_host,
        "GLEITZEIT_TASK_QUEUE": queue,
        "GLEITZEIT_AUTO_START_LLM": "false",
        "GLEITZEIT_AUTO_START_TEMPORAL": "false",
        "GLEITZEIT_EXECUTOR": "local",
        "GLEITZEIT_DATA_DIR": str(tmp_path / "data"),
        "GLEITZEIT_API_PORT": str(free_port()),
    }


async def _gleitzeit(*args: str, env: dict[str, str], timeout: float = 120) -> tuple[int, str, str]:
    binary = venv_binary("gleitzeit")
    assert binary
    proc = await asyncio.create_subprocess_exec(
        binary, *args, env=env, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await asyncio.wait_for(proc.communicate(), timeout)
    return proc.returncode or 0, out.decode(), err.decode()


async def _pickup_delay(client: Client, workflow_id: str) -> float:
    """Seconds from the run's start to its first activity's start (from the history)."""
    started = first_activity = None
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            started = event.event_time.ToDatetime()
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED and first_activity is None:
            first_activity = event.event_time.ToDatetime()
    assert started is not None and first_activity is not None
    return (first_activity - started).total_seconds()


async def _run_json(pipeline: Path, env: dict[str, str]) -> tuple[dict[str, object], str]:
    rc, out, err = await _gleitzeit("run", str(pipeline), "--json", env=env)
    assert rc == 0, err
    return json.loads(out), err


async def test_a_repeated_run_starts_its_worker_at_once(
    local_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    pipeline = tmp_path / "three.yaml"
    pipeline.write_text(PIPELINE)
    env = _env(local_env, tmp_path, f"repeat-{uuid.uuid4().hex[:8]}")
    first, _ = await _run_json(pipeline, env)
    assert first["status"] == "completed"
    # The first run's worker exited with its process but is still listed as a poller.
    second, err = await _run_json(pipeline, env)
    assert second["status"] == "completed"
    assert "started an in-process worker" in err and "has exited" in err, err
    assert "no worker picked the run up" not in err  # it did not sit out the grace
    delay = await _pickup_delay(local_env.client, str(second["workflow_id"]))
    assert delay < PROGRESS_GRACE / 2, f"first activity {delay:.2f} s after the start"


async def test_a_run_right_after_a_killed_worker_proceeds(
    local_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    pipeline = tmp_path / "three.yaml"
    pipeline.write_text(PIPELINE)
    queue = f"killed-{uuid.uuid4().hex[:8]}"
    env = _env(local_env, tmp_path, queue)
    binary = venv_binary("gleitzeit")
    assert binary
    worker = subprocess.Popen(
        [binary, "worker"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        await until(lambda: live_pollers(local_env.client, "default", queue), "the worker polls", timeout=60)
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(30)
    result, err = await _run_json(pipeline, env)
    assert result["status"] == "completed"
    assert f"pid {worker.pid} on this host has exited" in err, err
    assert await _pickup_delay(local_env.client, str(result["workflow_id"])) < PROGRESS_GRACE / 2


async def test_the_backend_asks_again_before_each_run(local_env: WorkflowEnvironment, tmp_path: Path) -> None:
    """The reported bug: a server that found a worker at start-up ran none of its own; when that
    worker went away, runs stayed scheduled. Now the next run brings one up."""
    settings = Settings(
        temporal_address=local_env.client.service_client.config.target_host,
        task_queue=f"again-{uuid.uuid4().hex[:8]}",
        auto_start_llm=False,
        auto_start_temporal=False,
        executor="local",
        data_dir=tmp_path / "data",
    )
    other = build_worker(local_env.client, settings)
    async with other:
        await until(lambda: live_pollers(local_env.client, "default", settings.task_queue), "polls")
        backend = NativeBackend(settings)
        await backend.start()
    try:
        assert backend.runtime is not None and backend.runtime.worker is None  # someone was there
        # That worker is gone now (its pid is this process, alive: the registry knows it stopped).
        gone = await worker_liveness(local_env.client, settings.task_queue)
        assert gone.pollers and not gone.live, gone
        run = await backend.start_workflow(PIPELINE)
        execution = await run.result(timeout=60)
        assert execution.status.value == "completed"
        assert "runs no worker any more" in backend.runtime.notes[-1]
    finally:
        await backend.close()


async def test_run_says_it_waits_when_no_worker_will_come(
    local_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    pipeline = tmp_path / "three.yaml"
    pipeline.write_text(PIPELINE)
    queue = f"unserved-{uuid.uuid4().hex[:8]}"
    rc, out, err = await _gleitzeit(
        "run", str(pipeline), "--no-wait", "--worker", "never", env=_env(local_env, tmp_path, queue)
    )
    assert rc == 0, err
    assert f"waiting: no worker is polling task queue '{queue}'" in err, err
    await local_env.client.get_workflow_handle(out.strip()).terminate("test over")


@pytest.fixture
async def never_serving(local_env: WorkflowEnvironment, tmp_path: Path) -> AsyncIterator[tuple[str, str]]:
    """`gleitzeit serve --worker never` on a task queue nobody polls: (base URL, task queue)."""
    queue = f"nobody-{uuid.uuid4().hex[:8]}"
    env = _env(local_env, tmp_path, queue)
    port = free_port()
    binary = venv_binary("gleitzeit")
    assert binary
    log = (tmp_path / "serve.log").open("wb")
    proc = subprocess.Popen(
        [binary, "serve", "--port", str(port), "--worker", "never", "--log-level", "warning"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"

    async def answers() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"gleitzeit serve exited: {(tmp_path / 'serve.log').read_text()}")
        try:
            async with httpx.AsyncClient(timeout=1) as http:
                return (await http.get(url + "/v1/health")).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        await until(answers, "gleitzeit serve answers", timeout=60, interval=0.2)
        yield url, queue
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


async def test_serve_says_a_run_waits_for_a_worker(
    never_serving: tuple[str, str], local_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    url, queue = never_serving
    async with httpx.AsyncClient(base_url=url, timeout=30) as http:
        started = await http.post("/v1/workflows", json={"yaml": PIPELINE})
        assert started.status_code == 201, started.text
        workflow_id = started.json()["workflow_id"]
        try:
            seen: dict[str, object] = {}

            async def waiting() -> bool:
                seen.update((await http.get(f"/v1/workflows/{workflow_id}")).json())
                return bool(seen["waiting_for_worker"])

            await until(waiting, "the run is reported as waiting for a worker", timeout=30, interval=0.3)
            assert seen["status"] == "running"
            assert f"no worker is polling task queue '{queue}'" in str(seen["message"])
            assert "gleitzeit worker" in str(seen["message"])
            # The CLI tells the same, without starting a worker of its own.
            env = {**_env(local_env, tmp_path, queue), "GLEITZEIT_API_PORT": url.rsplit(":", 1)[1]}
            rc, out, err = await _gleitzeit("result", workflow_id, "--no-wait", "--json", env=env)
            assert rc == 1, err
            answer = json.loads(out)
            assert answer["waiting_for_worker"] is True and queue in answer["message"]
            assert "waiting:" in err
        finally:
            await local_env.client.get_workflow_handle(workflow_id).terminate("test over")
