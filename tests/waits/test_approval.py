"""human/approval on the real dev server: the session's client stack (native and api clients, the REST
API, a worker), and a worker of its own for the restart test. Timeouts are in test_timers.py
(time-skipping)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest
from temporalio.api.sdk.v1 import WorkflowMetadata
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from gleitzeit.cli.app import app
from gleitzeit.client import GleitzeitClient
from gleitzeit.client.handles import WorkflowRun
from gleitzeit.config import Settings
from gleitzeit.core.errors import ConflictError, NotFoundError, TaskExecutionError, ValidationError
from gleitzeit.worker.build import build_worker
from tests.client.subprocesses import run_cli
from tests.fixtures.client import ClientStack
from tests.helpers import until

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(240)]


def pipeline(**approval: Any) -> dict[str, Any]:
    params = {"prompt": "Send the report to ${inputs.customer}?", "timeout": "48h", **approval}
    return {
        "name": "approval",
        "inputs": {"customer": {"type": "string", "default": "ACME"}},
        "tasks": [
            {"id": "draft", "method": "time/sleep", "parameters": {"duration": "10ms"}},
            {"id": "ask", "method": "human/approval", "dependencies": ["draft"], "parameters": params},
        ],
        "outputs": {"note": "${ask.data.note}", "by": "${ask.by}"},
    }


async def waiting(run: WorkflowRun, task: str = "ask") -> None:
    async def held() -> bool:
        return any(t.task_id == task for t in await run.waiting_tasks())

    await until(held, f"task '{task}' waiting", timeout=60)


async def history_kinds(stack: ClientStack, workflow_id: str) -> list[str]:
    client = await stack.native._backend()
    history = await client.client.get_workflow_handle(workflow_id).fetch_history()  # type: ignore[union-attr]
    return [e.WhichOneof("attributes") or "" for e in history.events]


async def test_approve_with_data_after_refused_answers(client_stack: ClientStack) -> None:
    schema = {"type": "object", "required": ["note"], "properties": {"note": {"type": "string"}}}
    native = client_stack.native
    run = await native.start_workflow(pipeline(schema=schema, approvers=["alice", "bob"]))
    await waiting(run)

    # Waiting, with the prompt resolved, wherever the run's state shows.
    (held,) = await run.waiting_tasks()
    assert held.state == "waiting" and held.prompt == "Send the report to ACME?" and held.until is not None
    async with httpx.AsyncClient(base_url=client_stack.api_url) as http:
        info = (
            await http.get(
                f"/v1/workflows/{run.workflow_id}", headers={"Authorization": f"Bearer {client_stack.token}"}
            )
        ).json()
    assert [(t["task_id"], t["state"], t["prompt"]) for t in info["waiting"]] == [
        ("ask", "waiting", "Send the report to ACME?")
    ]
    temporal = (await client_stack.native._backend()).client  # type: ignore[union-attr]
    meta = await temporal.get_workflow_handle(run.workflow_id).query(
        "__temporal_workflow_metadata", result_type=WorkflowMetadata
    )
    assert "waiting for approval: Send the report to ACME? (task ask)" in meta.current_details
    shown = await run_cli(
        client_stack, "api", "result", run.workflow_id, "--no-wait", "--json", "--mode", "api"
    )
    answer = json.loads(shown.stdout)
    assert answer["status"] == "running" and answer["waiting"][0]["state"] == "waiting"
    assert f"gleitzeit approve {run.workflow_id} ask" in shown.stderr

    # Refused, each with its reason, nothing recorded.
    with pytest.raises(NotFoundError, match="no task 'nope'.*human/approval tasks: ask"):
        await native.approve(run.workflow_id, "nope")
    with pytest.raises(NotFoundError, match="'draft' is a time/sleep task"):
        await native.approve(run.workflow_id, "draft")
    with pytest.raises(ValidationError, match="does not match task 'ask''s schema: 'note' is a required"):
        await native.approve(run.workflow_id, "ask", data={"other": 1}, by="alice")
    with pytest.raises(ValidationError, match="'mallory' is not among the approvers"):
        await client_stack.api.approve(run.workflow_id, "ask", data={"note": "x"}, by="mallory")
    # Refused before anything is sent (in-process: no run is touched).
    bad = CliRunner().invoke(app, ["approve", run.workflow_id, "ask", "--data", "{oops"])
    assert bad.exit_code == 2 and "--data is not JSON" in bad.output, bad.output

    done = await run_cli(
        client_stack,
        "native",
        "approve",
        run.workflow_id,
        "ask",
        "--data",
        '{"note": "fine"}',
        "--by",
        "alice",
        "--reason",
        "checked",
        "--mode",
        "native",
    )
    assert done.returncode == 0, done.stderr
    assert "approved by alice" in done.stderr
    results = await run.result(timeout=60)
    assert results.outputs == {"note": "fine", "by": "alice"}
    ask = results.results["ask"].result
    assert ask["approved"] is True and ask["reason"] == "checked" and ask["at"] and ask["timed_out"] is False

    with pytest.raises(ConflictError, match="is completed: nothing waits for an answer"):
        await native.approve(run.workflow_id, "ask", data={"note": "again"}, by="bob")
    kinds = await history_kinds(client_stack, run.workflow_id)
    assert kinds.count("workflow_execution_update_accepted_event_attributes") == 1
    assert "workflow_execution_update_rejected_event_attributes" not in kinds
    assert "activity_task_scheduled_event_attributes" not in kinds  # no activity for either wait


async def test_reject_fails_the_task_and_a_second_answer_is_refused(client_stack: ClientStack) -> None:
    api = client_stack.api
    run = await api.start_workflow(pipeline())
    await waiting(run)
    recorded = await api.approve(run.workflow_id, "ask", approved=False, reason="numbers are wrong", by="bob")
    assert recorded["approved"] is False
    with pytest.raises(ConflictError, match="already answered|not waiting|nothing waits"):
        await api.approve(run.workflow_id, "ask", by="bob")
    with pytest.raises(TaskExecutionError, match="rejected by bob: numbers are wrong"):
        await run.result(timeout=60)


async def test_an_approval_waits_across_a_worker_restart(local_env: WorkflowEnvironment) -> None:
    settings = Settings(
        temporal_address=local_env.client.service_client.config.target_host,
        task_queue=f"approval-{uuid.uuid4().hex[:8]}",
        auto_start_llm=False,
        auto_start_temporal=False,
    )
    client = GleitzeitClient(mode="native", settings=settings, native_config={"worker": "never"})
    async with client:
        async with build_worker(local_env.client, settings):
            run = await client.start_workflow(pipeline())
            await waiting(run)
        # The worker is gone; a new one (a new process would do the same) replays the run and goes on.
        async with build_worker(local_env.client, settings):
            await client.approve(run.workflow_id, "ask", data={"note": "after restart"}, by="carol")
            results = await run.result(timeout=60)
    assert results.outputs == {"note": "after restart", "by": "carol"}
