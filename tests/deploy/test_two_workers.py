"""Scale-out: two `gleitzeit worker` processes on one task queue share the tasks of one large run."""

from __future__ import annotations

import socket
import uuid
from collections import Counter
from pathlib import Path

import pytest

from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.dsl import load_workflow
from gleitzeit.services.connection import connect
from tests.deploy.conftest import DevServer, settings_for
from tests.deploy.workers import python_pipeline, wait_for_pollers, worker_processes

pytestmark = [pytest.mark.temporal, pytest.mark.slow]

TASKS = 40


async def test_two_workers_share_one_run(dev_server: DevServer, tmp_path: Path) -> None:
    queue = f"scale-{uuid.uuid4().hex[:8]}"
    settings = settings_for(dev_server, queue)
    client = await connect(settings)
    spec = load_workflow(python_pipeline(f"scale-out-{uuid.uuid4().hex[:6]}", TASKS, sleep=0.2))

    with worker_processes(2, address=dev_server.address, task_queue=queue, log_dir=tmp_path) as procs:
        await wait_for_pollers(client, queue, 2, procs)
        handle = await start_pipeline(client, spec, {}, settings)
        result = await wait_result(handle)

    assert len(result.results) == TASKS
    ran_by = Counter(r["worker"] for r in result.results.values())
    expected = {f"{socket.gethostname()}:{p.pid}" for p in procs}
    logs = "\n".join((tmp_path / f"worker-{i}.log").read_text(errors="replace")[-1500:] for i in range(2))
    assert set(ran_by) == expected, f"tasks per worker: {dict(ran_by)}; workers: {expected}\n{logs}"
    # Both executed a real share, not one straggler each.
    assert min(ran_by.values()) >= 2, f"tasks per worker: {dict(ran_by)}"
