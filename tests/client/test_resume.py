"""Resuming runs against the session stack (real dev server, local executor, the embedded LLM server).

A side-effect log (each step appends its name) proves which steps ran and how often.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any

import pytest

from gleitzeit.core.errors import (
    ConflictError,
    TaskExecutionError,
    ValidationError,
    WorkflowCancelledError,
    WorkflowNotFoundError,
)
from gleitzeit.core.models import WorkflowStatus
from tests.fixtures.client import ClientStack

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(240)]

STEP = """
import pathlib
with open(context["log"], "a") as f:
    f.write(context["name"] + "\\n")
switch = context.get("switch")
if switch and pathlib.Path(switch).read_text().strip() != "ok":
    raise SystemExit("the switch file says: " + pathlib.Path(switch).read_text().strip())
result = {"step": context["name"], "extra": context.get("extra")}
"""


def chain(tmp: Path, *, extra: str = "x", sleep_in: str | None = None) -> dict[str, Any]:
    (tmp / "step.py").write_text(STEP)
    log, switch = str(tmp / "log.txt"), str(tmp / "switch.txt")

    def step(name: str, *deps: str, **context: Any) -> dict[str, Any]:
        params: dict[str, Any] = {
            "file": str(tmp / "step.py"),
            "context": {"log": log, "name": name, **context},
        }
        if name == sleep_in:
            params = {"code": "import time; time.sleep(60)", "timeout": 120}
        return {"id": name, "method": "python/execute", "parameters": params, "dependencies": list(deps)}

    return {
        "name": "resume chain",
        "tasks": [
            step("s1"),
            step("s2", "s1", extra=extra),
            step("s3", "s2", switch=switch),
            step("s4", "s3"),
        ],
    }


def ran(tmp: Path) -> list[str]:
    return (tmp / "log.txt").read_text().split()


@pytest.fixture
def tmp(client_stack: ClientStack) -> Path:
    path = client_stack.root / f"resume-{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


@pytest.mark.parametrize("mode", ["native", "api"])
async def test_failed_run_resumes_from_the_failed_step(
    client_stack: ClientStack, tmp: Path, mode: str
) -> None:
    client = client_stack.client(mode)
    (tmp / "switch.txt").write_text("off")
    run = await client.start_workflow(chain(tmp))
    with pytest.raises(TaskExecutionError):
        await run.result(timeout=60)
    assert ran(tmp) == ["s1", "s2", "s3"]

    (tmp / "switch.txt").write_text("ok")  # the fix
    planned = await client.plan_resume(run.workflow_id)
    assert planned.carried == ["s1", "s2"] and planned.to_run == ["s3", "s4"]
    assert planned.new_workflow_id is None
    results = await client.resume_workflow(run.workflow_id, timeout=60)
    assert ran(tmp) == ["s1", "s2", "s3", "s3", "s4"]  # 1 and 2 ran once
    assert results.workflow_id == f"{run.workflow_id}-resume-1"
    origins = {k: r.origin for k, r in results.execution.results.items()}
    assert origins == {"s1": "carried", "s2": "carried", "s3": "ran", "s4": "ran"}
    assert results["s1"]["result"]["step"] == "s1"

    # A completed run again from s2 (a chain of resumes: s1 is carried from the first run).
    again = await client.start_resume(results.workflow_id, from_tasks=["s2"])
    assert again.workflow_id == f"{run.workflow_id}-resume-2"
    assert again.resume_plan is not None and again.resume_plan.carried == ["s1"]
    await again.result(timeout=60)
    assert ran(tmp)[5:] == ["s2", "s3", "s4"]


async def test_edited_pipeline_reruns_the_changed_task(client_stack: ClientStack, tmp: Path) -> None:
    client = client_stack.native
    (tmp / "switch.txt").write_text("ok")
    run = await client.start_workflow(chain(tmp))
    await run.result(timeout=60)
    edited = chain(tmp, extra="y")  # s2's parameters changed
    results = await client.resume_workflow(run.workflow_id, edited, timeout=60)
    assert ran(tmp)[4:] == ["s2", "s3", "s4"]
    assert results["s2"]["result"]["extra"] == "y"
    assert results.execution.results["s1"].origin == "carried"

    bad = {"name": "resume chain", "tasks": [{"id": "s1", "method": "python/nope"}]}
    with pytest.raises(ValidationError):
        await client.plan_resume(run.workflow_id, bad)
    with pytest.raises(ValidationError, match="did you mean 's3'"):
        await client.plan_resume(run.workflow_id, from_tasks=["s33"])
    with pytest.raises(WorkflowNotFoundError, match="retention"):
        await client.plan_resume("no-such-run-123")


async def test_running_then_cancelled_run(client_stack: ClientStack, tmp: Path) -> None:
    client = client_stack.native
    (tmp / "switch.txt").write_text("ok")
    run = await client.start_workflow(chain(tmp, sleep_in="s3"))
    for _ in range(200):
        if (tmp / "log.txt").exists() and ran(tmp) == ["s1", "s2"]:
            break
        await asyncio.sleep(0.1)
    with pytest.raises(ConflictError, match="cancel"):
        await client_stack.api.plan_resume(run.workflow_id)  # 409 over the wire, same class
    await run.cancel()
    with pytest.raises(WorkflowCancelledError):
        await run.result(timeout=60)
    results = await client.resume_workflow(run.workflow_id, chain(tmp), timeout=60)
    assert results.status == WorkflowStatus.COMPLETED
    assert ran(tmp) == ["s1", "s2", "s3", "s4"]


async def test_llm_pipeline_resumed_without_repeating_calls(client_stack: ClientStack, tmp: Path) -> None:
    client = client_stack.native
    (tmp / "switch.txt").write_text("off")
    wf = chain(tmp)
    wf["tasks"][0] = {
        "id": "s1",
        "method": "llm/chat",
        "parameters": {"model": "smollm2:135m", "prompt": f"Say hi {tmp.name}", "max_tokens": 4},
    }
    run = await client.start_workflow(wf)
    with pytest.raises(TaskExecutionError):
        await run.result(timeout=120)
    calls = [r for r in client_stack.llm.requests() if r["path"] in ("/api/chat", "/api/generate")]
    (tmp / "switch.txt").write_text("ok")
    results = await client.resume_workflow(run.workflow_id, timeout=60)
    after = [r for r in client_stack.llm.requests() if r["path"] in ("/api/chat", "/api/generate")]
    assert len(after) == len(calls)  # the finished chat was carried, not asked again
    assert results.execution.results["s1"].origin == "carried"
    assert results["s1"]["response"]


async def test_cli_resume(client_stack: ClientStack, tmp: Path) -> None:
    import json

    from tests.client.subprocesses import run_cli

    (tmp / "switch.txt").write_text("off")
    run = await client_stack.api.start_workflow(chain(tmp))
    with pytest.raises(TaskExecutionError):
        await run.result(timeout=60)
    (tmp / "switch.txt").write_text("ok")
    done = await run_cli(client_stack, "api", "resume", run.workflow_id, "--mode", "api", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert {t["task_id"]: t["origin"] for t in report["tasks"]} == {
        "s1": "carried",
        "s2": "carried",
        "s3": "ran",
        "s4": "ran",
    }
    assert "carried from" in done.stderr and "s3: failed in" in done.stderr  # the plan, first
    assert "s1: completed (carried)" in done.stderr
    unknown = await run_cli(client_stack, "api", "resume", "no-such-run", "--mode", "api")
    assert unknown.returncode == 2 and "no-such-run" in unknown.stderr
    wrong = await run_cli(client_stack, "api", "resume", run.workflow_id, "--mode", "api", "--from", "s33")
    assert wrong.returncode == 2 and "did you mean" in wrong.stderr


BATCH_STEP = """
import pathlib, time
name = pathlib.Path(context["file_path"]).name
if name == "c.txt" and pathlib.Path(context["switch"]).read_text().strip() != "ok":
    time.sleep(120)  # stuck until the run is cancelled
with open(context["log"], "a") as f:
    f.write(name + "\\n")
result = {"file": name, "words": len(pathlib.Path(context["file_path"]).read_text().split())}
"""


async def test_cancelled_batch_resumes_without_redoing_finished_files(
    client_stack: ClientStack, tmp: Path
) -> None:
    client = client_stack.native
    docs, out = tmp / "docs", tmp / "out"
    docs.mkdir()
    for name in ("a", "b", "c", "d"):
        (docs / f"{name}.txt").write_text(f"file {name} has five words")
    (tmp / "step.py").write_text(BATCH_STEP)
    (tmp / "switch.txt").write_text("stuck")
    log = tmp / "log.txt"
    template = {
        "method": "python/execute",
        "parameters": {
            "file": str(tmp / "step.py"),
            "executor": "local",
            "timeout": 300,
            "context": {"log": str(log), "switch": str(tmp / "switch.txt")},
        },
    }
    run = await client.start_batch(
        str(docs), "*.txt", max_concurrent=2, output_dir=str(out), template=template
    )
    for _ in range(600):  # a and b (listed before c) finish while c is stuck
        if log.exists() and {"a.txt", "b.txt"} <= set(log.read_text().split()):
            break
        await asyncio.sleep(0.1)
    assert {"a.txt", "b.txt"} <= set(log.read_text().split())
    assert "c.txt" not in log.read_text().split()
    await run.cancel()
    with pytest.raises(WorkflowCancelledError):
        await run.result(timeout=60)

    (tmp / "switch.txt").write_text("ok")  # the fix
    planned = await client.plan_resume(run.workflow_id)
    assert planned.kind == "batch"
    resumed = await client.start_resume(run.workflow_id)
    assert resumed.workflow_id == f"{run.workflow_id}-resume-1"
    execution = await resumed.result(timeout=120)
    assert execution.status == WorkflowStatus.COMPLETED
    assert sorted(log.read_text().split()) == ["a.txt", "b.txt", "c.txt", "d.txt"]  # each file once
    assert sorted(p.name for p in out.glob("*.json")) == [
        "a.txt.json",
        "b.txt.json",
        "c.txt.json",
        "d.txt.json",
    ]
