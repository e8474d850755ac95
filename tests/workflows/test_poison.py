"""No poison runs, on a real dev server: input the workflow cannot run fails the run at once.

Without ``failure_exception_types`` (gleitzeit.workflows.failures) such input failed the workflow
*task*, which Temporal retries forever while the run shows RUNNING and ``gleitzeit run`` waits. The
inputs here bypass the client's validation (a raw dict, ``model_construct``), as an old client, a
hand-written starter or a bug would. And the SDK core's own log lines go to stderr, not stdout.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.client import Client, WorkflowFailureError
from temporalio.testing import WorkflowEnvironment

from gleitzeit.config import Settings
from gleitzeit.contracts.dag import DagInput
from gleitzeit.contracts.spec import TaskSpec, WorkflowSpec
from gleitzeit.worker.build import build_worker
from tests.workflows.doubles import ScriptedActivities

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(90)]

ROOT = Path(__file__).resolve().parents[2]


async def _fails_at_once(client: Client, arg: Any) -> WorkflowFailureError:
    settings = Settings(task_queue=f"poison-{uuid.uuid4()}")
    async with build_worker(client, settings, activities=ScriptedActivities().activities()):
        handle = await client.start_workflow(
            "DagWorkflow", arg, id=f"poison-{uuid.uuid4()}", task_queue=settings.task_queue
        )
        with pytest.raises(WorkflowFailureError) as info:
            await asyncio.wait_for(handle.result(), 20)  # a poison run would wait forever
        events = [e.event_type async for e in handle.fetch_history_events()]
    assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in events  # failed the run, not the task
    return info.value


async def test_undecodable_input_fails_the_run(local_env: WorkflowEnvironment) -> None:
    # As the issue found it: a timeout of 1e30 s and a max_parallel past any int (a raw dict skips
    # the client's models; the worker's decoding refuses it).
    raw = {
        "spec": {
            "name": "poison",
            "max_parallel": 10**38,
            "tasks": [{"id": "a", "method": "python/execute", "timeout": 1e30, "parameters": {"code": "1"}}],
        }
    }
    err = await _fails_at_once(local_env.client, raw)
    text = str(err.cause)
    assert "max_parallel" in text and "timeout" in text


async def test_input_that_breaks_the_interpreter_fails_the_run(local_env: WorkflowEnvironment) -> None:
    # Decodes (model_construct skips validation on the sending side too), then cannot be run: the
    # task depends on one that does not exist.
    spec = WorkflowSpec.model_construct(
        name="broken",
        tasks=[
            TaskSpec(
                id="a", method="llm/chat", parameters={"model": "m", "prompt": "x"}, dependencies=["ghost"]
            )
        ],
    )
    err = await _fails_at_once(local_env.client, DagInput(spec=spec))
    assert "ghost" in str(err.cause)


def test_sdk_core_logs_go_to_stderr_not_stdout(local_env: WorkflowEnvironment) -> None:
    address = local_env.client.service_client.config.target_host
    proc = subprocess.run(
        [sys.executable, "-m", "tests.workflows.core_log_child", address],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "run ended" in proc.stderr, proc.stderr
    assert "Failing workflow task" in proc.stderr  # the core's warning, forwarded to Python logging
    assert proc.stdout == ""
