"""Schedules on the real dev server (the session's ``local_env``) with a worker of the module's own:
created, listed by our CLI and by the official ``temporal`` CLI, triggered (the run completes),
backfilled, paused, unpaused and deleted; bad input creates nothing. And the same over the REST API
(the session's client stack)."""

from __future__ import annotations

import json
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from gleitzeit.client import GleitzeitClient
from gleitzeit.config import Settings
from gleitzeit.core.errors import NotFoundError, ValidationError
from gleitzeit.services.api_process import settings_env
from gleitzeit.worker.build import build_worker
from tests.client.subprocesses import run_process
from tests.fixtures.client import ClientStack
from tests.helpers import free_port, until, venv_binary

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(240)]

PIPELINE = """
name: nightly report
inputs: {customer: {type: string}}
tasks:
  - id: wait
    method: time/sleep
    parameters: {duration: 10ms}
outputs: {customer: "${inputs.customer}"}
"""


@pytest.fixture
async def scheduling(
    local_env: WorkflowEnvironment, tmp_path: Path
) -> AsyncIterator[tuple[GleitzeitClient, Settings, Path]]:
    settings = Settings(
        temporal_address=local_env.client.service_client.config.target_host,
        task_queue=f"schedules-{uuid.uuid4().hex[:8]}",
        auto_start_llm=False,
        auto_start_temporal=False,
    )
    path = tmp_path / "nightly.yaml"
    path.write_text(PIPELINE)
    async with build_worker(local_env.client, settings):
        async with GleitzeitClient(
            mode="native", settings=settings, native_config={"worker": "never"}
        ) as client:
            yield client, settings, path


async def test_a_schedule_from_creation_to_deletion(
    scheduling: tuple[GleitzeitClient, Settings, Path],
) -> None:
    client, settings, path = scheduling
    sid = f"nightly-{uuid.uuid4().hex[:6]}"
    created = await client.schedules.create(path, sid, every="1h", inputs={"customer": "ACME"})
    assert created.every == [3600.0] and created.pipeline == "nightly report" and created.overlap == "skip"
    assert created.next_runs and not created.paused

    # Bad input: said clearly, nothing created.
    with pytest.raises(ValidationError, match="a schedule with id .* exists"):
        await client.schedules.create(path, sid, cron="0 6 * * *", inputs={"customer": "x"})
    with pytest.raises(ValidationError, match="'every tuesday' is not a cron expression"):
        await client.schedules.create(path, sid + "-cron", cron="every tuesday", inputs={"customer": "x"})
    with pytest.raises(ValidationError, match="'5 parsecs' is not a duration"):
        await client.schedules.create(path, sid + "-every", every="5 parsecs", inputs={"customer": "x"})
    with pytest.raises(ValidationError, match="customer"):
        await client.schedules.create(path, sid + "-inputs", every="1h")
    ids = [s.schedule_id for s in await client.schedules.list()]
    assert sid in ids and not any(i.startswith(sid + "-") for i in ids)

    # Listed by our CLI and by Temporal's own.
    env = {**os.environ, **settings_env(settings), "GLEITZEIT_API_PORT": str(free_port())}
    code = "from gleitzeit.cli import main; main()"
    ours = await run_process(
        [sys.executable, "-c", code, "schedule", "list", "--json", "--mode", "native"], env
    )
    assert ours.returncode == 0, ours.stderr
    assert sid in [s["schedule_id"] for s in json.loads(ours.stdout)]
    temporal = venv_binary("temporal")
    assert temporal is not None
    theirs = await run_process([temporal, "schedule", "list", "--address", settings.temporal_address], env)
    assert theirs.returncode == 0 and sid in theirs.stdout, theirs.stderr

    # Triggered: its run completes, with the inputs bound at creation.
    await client.schedules.trigger(sid)

    async def started() -> bool:
        return bool((await client.schedules.describe(sid)).recent_runs)

    await until(started, "the triggered run started", timeout=60)
    run_id = (await client.schedules.describe(sid)).recent_runs[0].workflow_id
    assert run_id.startswith(sid)
    result = await (await client.get_workflow(run_id)).result(timeout=60)
    assert result.outputs == {"customer": "ACME"}

    # Backfilled: the runs of the last three hours.
    now = created.next_runs[0] - timedelta(hours=1)
    await client.schedules.backfill(sid, now - timedelta(hours=3), now)

    async def backfilled() -> bool:
        return ((await client.schedules.describe(sid)).runs or 0) >= 3

    await until(backfilled, "the backfilled runs started", timeout=60)

    await client.schedules.pause(sid)
    assert (await client.schedules.describe(sid)).paused
    await client.schedules.unpause(sid)
    assert not (await client.schedules.describe(sid)).paused
    await client.schedules.delete(sid)
    with pytest.raises(NotFoundError, match=f"no schedule with id '{sid}'"):
        await client.schedules.describe(sid)


async def test_schedules_over_the_rest_api(client_stack: ClientStack) -> None:
    """The api client's schedules go through /v1/schedules (the lifecycle on Temporal is tested in
    tests/schedules); errors keep their kind across the wire."""
    api = client_stack.api
    sid = f"api-{uuid.uuid4().hex[:6]}"
    text = (
        "name: api schedule\ntasks:\n  - id: nap\n    method: time/sleep\n    parameters: {duration: 10ms}\n"
    )
    created = await api.schedules.create(text, sid, cron="0 6 * * *", timezone="Europe/Berlin")
    assert created.cron == ["0 6 * * *"] and created.timezone == "Europe/Berlin"
    assert sid in [s.schedule_id for s in await api.schedules.list()]
    with pytest.raises(ValidationError, match="not a time zone"):
        await api.schedules.create(text, sid + "-tz", cron="0 6 * * *", timezone="Mars/Olympus")
    with pytest.raises(ValidationError, match="exists"):
        await api.schedules.create(text, sid, every="1h")
    await api.schedules.pause(sid, "holiday")
    described = await api.schedules.describe(sid)
    assert described.paused and described.note == "holiday"
    await api.schedules.delete(sid)
    with pytest.raises(NotFoundError):
        await api.schedules.describe(sid)
