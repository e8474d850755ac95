"""A worker SIGKILLed mid-script, then restarted: the retried attempt completes, the orphan container
and the killed worker's workspace are gone.

Real pieces only: the Temporal dev server, the DAG workflow, the worker in its own process (built by
gleitzeit.worker.build_worker), the Docker sandbox. Takes ~30 s: Temporal notices the dead worker
through the python task's heartbeat timeout (15 s).
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from gleitzeit.contracts.dag import DagInput
from gleitzeit.contracts.spec import RetrySpec, TaskSpec, WorkflowSpec
from gleitzeit.executors.leftovers import RAM_DISK, owner_tag
from gleitzeit.workflows import DagWorkflow
from tests.fixtures.docker import containers_with_label

pytestmark = [pytest.mark.docker, pytest.mark.temporal, pytest.mark.slow]

WORKER = """
import asyncio, sys
from gleitzeit.services.connection import connect
from gleitzeit.config import Settings
from gleitzeit.worker import build_worker

async def main() -> None:
    settings = Settings()
    client = await connect(settings)
    async with build_worker(client, settings, task_queue=sys.argv[1]):
        print("worker ready", flush=True)
        await asyncio.Event().wait()

asyncio.run(main())
"""

# Attempt 1 hangs (the worker gets killed under it); the retried attempt answers at once.
SCRIPT = """
import json, os, time
if os.environ["GLEITZEIT_ATTEMPT"] == "1":
    print("attempt 1 working...", flush=True)
    time.sleep(300)
print(json.dumps({"attempt": int(os.environ["GLEITZEIT_ATTEMPT"])}))
"""


def leftover_places() -> list[Path]:
    """Every folder in the places workspaces are made (the RAM disk and the temporary folder)."""
    return [
        p for parent in (RAM_DISK, Path(tempfile.gettempdir())) if parent.is_dir() for p in parent.iterdir()
    ]


def _namespace() -> str:
    return owner_tag().split("-")[0]


class WorkerProcess:
    """`build_worker` in a child process of its own session, so it can be SIGKILLed like a crash."""

    def __init__(self, address: str, task_queue: str, log: Path) -> None:
        env = {
            **os.environ,
            "GLEITZEIT_TEMPORAL_ADDRESS": address,
            "GLEITZEIT_AUTO_START_TEMPORAL": "false",
            "GLEITZEIT_AUTO_START_LLM": "false",
            "GLEITZEIT_EXECUTOR": "docker",
        }
        self._log = open(log, "ab")  # noqa: SIM115 - closed in kill()
        self.proc = subprocess.Popen(
            [sys.executable, "-c", WORKER, task_queue],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._log.close()


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.kill()


async def _wait_for(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.5)


async def test_a_killed_worker_leaves_no_container_and_the_retry_completes(
    docker_image: str, local_env: WorkflowEnvironment, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    address = local_env.client.service_client.config.target_host
    queue = f"crash-{uuid.uuid4().hex[:8]}"
    task_id = f"crashy-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    spec = WorkflowSpec(
        name="worker crash",
        tasks=[
            TaskSpec(
                id=task_id,
                method="python/execute",
                parameters={"code": SCRIPT, "executor": "docker", "timeout": 120},
                timeout=150,
                retry=RetrySpec(max_attempts=3, base_delay=1.0, jitter=False),
            )
        ],
    )
    workers.append(WorkerProcess(address, queue, log))
    handle = await local_env.client.start_workflow(
        DagWorkflow.run, DagInput(spec=spec), id=f"wf-{task_id}", task_queue=queue
    )

    def attempt_running(n: int) -> bool:
        return any(
            c["State"] == "running" and c["Names"].endswith(f"-a{n}")
            for c in containers_with_label("gleitzeit.task_id", task_id)
        )

    await _wait_for(lambda: attempt_running(1), 60, f"attempt 1's container (worker log: {log})")
    workers[0].kill()  # the crash: no finally blocks run, the container keeps running
    assert attempt_running(1)

    killed = workers[0].proc.pid
    left = [p for p in leftover_places() if p.name.startswith(f"gleitzeit-script-{_namespace()}-{killed}-")]
    assert left, "attempt 1's workspace, named for its worker, should be there until a worker starts"

    workers.append(WorkerProcess(address, queue, log))
    result = await asyncio.wait_for(handle.result(), timeout=120)
    assert result.results[task_id]["result"] == {"attempt": 2}
    assert containers_with_label("gleitzeit.task_id", task_id) == [], "the orphan of attempt 1 survived"
    assert not any(p.exists() for p in left), "the new worker did not remove the killed one's workspace"
