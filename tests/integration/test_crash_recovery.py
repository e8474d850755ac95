"""Crash recovery with real processes: a SIGKILLed worker, a SIGKILLed Temporal server.

The pipeline resumes where it was and tasks finished before the crash are not run again: for LLM
tasks the real LLM server's request log (X-Request-Id = workflow/task/attempt) counts the calls; for
python tasks each script appends its task id to a marker file.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.contracts.dag import WorkflowProgress
from gleitzeit.dsl import load_workflow
from gleitzeit.services.connection import connect
from gleitzeit.workflows.dag import DagWorkflow
from tests.integration.procs import crash_server, kill_worker, start_worker

pytestmark = [pytest.mark.temporal, pytest.mark.slow, pytest.mark.timeout(300)]

MARKER_SCRIPT = """
import json, sys, time
ctx = json.load(sys.stdin)
time.sleep(ctx["sleep"])
with open(ctx["marker"], "a") as f:
    f.write(ctx["task"] + "\\n")
print(json.dumps({"task": ctx["task"]}))
"""


async def wait_progress(handle: Any, done: Any, timeout: float = 90) -> WorkflowProgress:
    """Poll the progress query until ``done(progress)``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        try:
            progress = await handle.query(DagWorkflow.progress)
        except Exception:
            progress = None
        if progress is not None and done(progress):
            return progress
        await asyncio.sleep(0.1)
    raise AssertionError(f"progress condition not reached within {timeout} s")


@pytest.mark.llm
async def test_killed_worker_resumes_without_redoing_finished_llm_tasks(
    llm_server: Any, tmp_path: Path
) -> None:
    tasks = [
        {
            "id": f"t{i}",
            "method": "llm/chat",
            "dependencies": [f"t{i - 1}"] if i > 1 else [],
            "parameters": {
                "model": "smollm2:135m",
                "max_tokens": 90,
                "temperature": 0,
                "messages": [{"role": "user", "content": f"Count slowly from {i} to {i + 60}."}],
            },
        }
        for i in range(1, 6)
    ]
    spec = load_workflow({"name": "crash-llm", "tasks": tasks})
    with crash_server(tmp_path / "temporal", f"crash-{uuid.uuid4()}") as srv:
        settings = srv.settings.model_copy(update={"ollama_host": llm_server.url})
        first = start_worker(settings, tmp_path / "worker1.log")
        second = None
        try:
            client = await connect(settings)
            handle = await start_pipeline(client, spec, {}, settings)
            at_kill = await wait_progress(handle, lambda p: p.completed >= 2 and p.running >= 1)
            kill_worker(first)
            finished_before = {t.task_id for t in at_kill.tasks if t.state == "completed"}
            second = start_worker(settings, tmp_path / "worker2.log")
            result = await asyncio.wait_for(wait_result(handle), 240)
        finally:
            for proc in (first, second):
                if proc is not None and proc.poll() is None:
                    kill_worker(proc)
    assert result.status == "completed"
    assert set(result.results) == {f"t{i}" for i in range(1, 6)}
    calls = Counter(
        r["request_id"].split("/")[1]
        for r in llm_server.requests()
        if (r.get("request_id") or "").startswith(handle.id + "/")
    )
    for task_id in finished_before:
        assert calls[task_id] == 1, (
            f"{task_id} finished before the crash but was called {calls[task_id]} times"
        )
    assert all(calls[f"t{i}"] >= 1 for i in range(1, 6))
    # At most the one task in flight at the kill ran twice.
    assert sum(calls.values()) <= 6, calls


async def test_killed_server_resumes_from_its_persistent_file(tmp_path: Path) -> None:
    marker = tmp_path / "marker.txt"
    tasks = [
        {
            "id": f"s{i}",
            "method": "python/execute",
            "dependencies": [f"s{i - 1}"] if i > 1 else [],
            "parameters": {
                "code": MARKER_SCRIPT,
                "executor": "local",
                "context": {"sleep": 0.8, "marker": str(marker), "task": f"s{i}"},
            },
        }
        for i in range(1, 6)
    ]
    spec = load_workflow({"name": "crash-server", "tasks": tasks})
    with crash_server(tmp_path / "temporal", f"crash-{uuid.uuid4()}") as srv:
        worker = start_worker(srv.settings, tmp_path / "worker.log")
        try:
            client = await connect(srv.settings)
            handle = await start_pipeline(client, spec, {}, srv.settings)
            at_kill = await wait_progress(handle, lambda p: p.completed >= 2)
            finished_before = {t.task_id for t in at_kill.tasks if t.state == "completed"}
            srv.kill()
            await asyncio.sleep(1.0)
            srv.restart()
            client = await connect(srv.settings)
            handle = client.get_workflow_handle(handle.id, result_type=handle._result_type)
            result = await asyncio.wait_for(wait_result(handle), 240)
        finally:
            if worker.poll() is None:
                kill_worker(worker)
    assert result.status == "completed"
    assert [result.results[f"s{i}"]["result"] for i in range(1, 6)] == [
        {"task": f"s{i}"} for i in range(1, 6)
    ]
    runs = Counter(marker.read_text().split())
    for task_id in finished_before:
        assert runs[task_id] == 1, f"{task_id} finished before the crash but ran {runs[task_id]} times"
    assert all(runs[f"s{i}"] >= 1 for i in range(1, 6)), runs
    assert sum(runs.values()) <= 6, runs
    assert json.loads(json.dumps(result.outputs)) == {}
