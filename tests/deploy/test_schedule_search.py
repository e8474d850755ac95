"""A scheduled run is found as every run is: by its pipeline's search attribute (GleitzeitPipeline),
on a server that has it registered (the dev server as `gleitzeit dev` starts it), and the schedule shows
in the official `temporal schedule list`."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest

from gleitzeit.client.schedules import NativeSchedules
from gleitzeit.dsl import load_workflow
from gleitzeit.services.connection import connect
from gleitzeit.worker.build import build_worker
from tests.deploy.conftest import DevServer, settings_for

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(120)]


async def test_a_scheduled_run_carries_the_pipelines_search_attribute(dev_server: DevServer) -> None:
    settings = settings_for(dev_server, f"sched-{uuid.uuid4().hex[:8]}", executor="local")
    client = await connect(settings)
    name = f"scheduled numbers {uuid.uuid4().hex[:6]}"
    spec = load_workflow(
        {"name": name, "tasks": [{"id": "a", "method": "python/execute", "parameters": {"code": "print(1)"}}]}
    )
    schedules = NativeSchedules(client, settings)
    schedule_id = f"gz-sched-{uuid.uuid4().hex[:8]}"
    await schedules.create(spec, schedule_id, every="1h")
    try:
        listed = dev_server.cli("schedule", "list", "--output", "json")
        assert listed.returncode == 0, listed.stderr
        assert schedule_id in listed.stdout
        query = f"GleitzeitPipeline='{name}' AND ExecutionStatus='Completed'"
        async with build_worker(client, settings):
            await schedules.trigger(schedule_id)
            found: list[str] = []
            for _ in range(120):  # the run completes, then visibility catches up (eventually consistent)
                found = [w.id async for w in client.list_workflows(query)]
                if found:
                    break
                await asyncio.sleep(0.5)
        assert len(found) == 1 and found[0].startswith(schedule_id), found
        described = dev_server.cli("workflow", "describe", "--workflow-id", found[0], "--output", "json")
        assert name in json.dumps(json.loads(described.stdout))
    finally:
        await schedules.delete(schedule_id)
