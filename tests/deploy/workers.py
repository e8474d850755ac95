"""Start `gleitzeit worker` processes against a test server and wait until they poll."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.service import RPCError

from gleitzeit.services.runtime import live_pollers
from tests.helpers import venv_binary

__all__ = ["python_pipeline", "wait_for_pollers", "worker_processes"]


def python_pipeline(name: str, count: int, sleep: float) -> dict[str, object]:
    """A pipeline of ``count`` independent inline-Python tasks (local executor), each sleeping ``sleep`` s."""
    code = (
        "import json, os, socket, sys, time\n"
        f"time.sleep({sleep})\n"
        "print(json.dumps({'host': socket.gethostname(), 'uid': os.getuid(), 'python': sys.executable}))\n"
    )
    return {
        "name": name,
        "tasks": [
            {
                "id": f"step-{i:02d}",
                "method": "python/execute",
                "parameters": {"code": code, "executor": "local"},
            }
            for i in range(count)
        ],
    }


@contextlib.contextmanager
def worker_processes(
    count: int, *, address: str, task_queue: str, log_dir: Path, max_concurrent_activities: int = 4
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """``count`` `gleitzeit worker` processes on one task queue; SIGTERM (graceful) on exit."""
    gleitzeit = venv_binary("gleitzeit")
    assert gleitzeit is not None, "the gleitzeit console script is missing from the venv"
    env = {
        **os.environ,
        "GLEITZEIT_TEMPORAL_ADDRESS": address,
        "GLEITZEIT_TASK_QUEUE": task_queue,
        "GLEITZEIT_EXECUTOR": "local",
        "GLEITZEIT_AUTO_START_TEMPORAL": "false",
    }
    procs: list[subprocess.Popen[bytes]] = []
    try:
        for i in range(count):
            with open(log_dir / f"worker-{i}.log", "wb") as log:
                procs.append(
                    subprocess.Popen(
                        [gleitzeit, "worker", "--max-concurrent-activities", str(max_concurrent_activities)],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
        yield procs
    finally:
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


async def wait_for_pollers(
    client: Client, task_queue: str, count: int, procs: list[subprocess.Popen[bytes]], timeout: float = 60.0
) -> None:
    """Until ``count`` workers poll ``task_queue`` for workflow tasks and for activities (a worker can
    take a run's tasks only then); fails early when a worker process died."""
    deadline = time.monotonic() + timeout
    while (
        await live_pollers(client, "default", task_queue) < count
        or await _activity_pollers(client, task_queue) < count
    ):
        dead = [p.pid for p in procs if p.poll() is not None]
        assert not dead, f"worker process(es) {dead} exited before polling (see their logs)"
        assert time.monotonic() < deadline, f"{count} workers did not poll {task_queue} within {timeout} s"
        await asyncio.sleep(0.1)


async def _activity_pollers(client: Client, task_queue: str) -> int:
    # The tests' queues are new (uuid names), so every poller listed is one of their live workers.
    try:
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace="default",
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_ACTIVITY,
            )
        )
    except RPCError:
        return 0  # the caller's deadline decides
    return len({poller.identity for poller in answer.pollers})
