"""Every method of the seed's client reference, in native and api mode, against real servers.

One session stack (tests/fixtures/client.py): a Temporal dev server, the embedded LLM server, the
REST API on loopback. Answers are tiny (max_tokens 8-16): the tests check shapes, not wisdom.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest

from gleitzeit import (
    GleitzeitClient,
    ModelNotFoundError,
    PermissionDeniedError,
    ScriptError,
    Task,
    TaskExecutionError,
    TaskResult,
    ValidationError,
    WorkflowNotFoundError,
)
from gleitzeit.core.models import TaskStatus, WorkflowStatus
from tests.fixtures.client import ClientStack
from tests.helpers import until

pytestmark = [pytest.mark.temporal, pytest.mark.llm, pytest.mark.timeout(180)]

MODES = ["native", "api"]


@pytest.fixture(params=MODES)
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def client(client_stack: ClientStack, mode: str) -> GleitzeitClient:
    return client_stack.client(mode)


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


async def test_client_reports_its_mode(client: GleitzeitClient, mode: str) -> None:
    assert client.mode == mode


async def test_chat_maps_the_seed_default_model(client: GleitzeitClient, client_stack: ClientStack) -> None:
    before = len(client_stack.llm.requests())
    answer = await client.chat("Say hello.", max_tokens=8)
    assert isinstance(answer, str) and answer.strip()
    models = {r.get("model") for r in client_stack.llm.requests()[before:]}
    assert "smollm2:135m" in models


async def test_chat_with_system_and_options(client: GleitzeitClient) -> None:
    answer = await client.chat(
        "Write a poem", model="smollm2:135m", temperature=0.9, system="You are a poet", max_tokens=8, seed=1
    )
    assert answer.strip()


async def test_chat_unknown_model_names_it(client: GleitzeitClient) -> None:
    with pytest.raises(ModelNotFoundError, match="no-such-model"):
        await client.chat("hi", model="no-such-model:1b", max_tokens=8)


async def test_chat_bad_option_is_a_validation_error(client: GleitzeitClient) -> None:
    with pytest.raises(ValidationError, match="tempreature"):
        await client.chat("hi", tempreature=0.1)


async def test_chat_messages(client: GleitzeitClient) -> None:
    messages = [
        {"role": "system", "content": "You are helpful"},
        {"role": "user", "content": "What is AI?"},
        {"role": "assistant", "content": "AI is..."},
        {"role": "user", "content": "Tell me more"},
    ]
    assert (await client.chat_messages(messages, max_tokens=8)).strip()
    with pytest.raises(ValidationError):
        await client.chat_messages([{"content": "no role"}])


async def test_chat_stream(client: GleitzeitClient) -> None:
    chunks = [c async for c in client.chat_stream("Tell a story", max_tokens=12)]
    assert len(chunks) > 1 and "".join(chunks).strip()
    with pytest.raises(ModelNotFoundError):
        async for _ in client.chat_stream("hi", model="no-such-model:1b"):
            pass


async def test_list_models(client: GleitzeitClient) -> None:
    models = await client.list_models()
    assert "smollm2:135m" in models


async def test_describe_models_gives_sizes_and_capabilities(client: GleitzeitClient) -> None:
    models = {m.name: m for m in await client.describe_models()}
    chat = models["smollm2:135m"]
    assert chat.size and chat.size > 1_000_000 and "completion" in chat.capabilities
    assert chat.parameter_size and chat.quantization_level
    assert any("embedding" in m.capabilities for m in models.values())


async def test_get_status(client: GleitzeitClient, mode: str) -> None:
    status = await client.get_status()
    assert status["mode"] == mode
    assert {"temporal", "workers", "ollama", "docker"} <= set(status)
    assert status["ollama"]["available"] is True
    assert status["temporal"]["available"] is True
    assert status["workers"]["pollers"] >= 1
    assert isinstance(status["docker"]["available"], bool)


async def test_run_workflow_from_dict(client: GleitzeitClient) -> None:
    workflow = {
        "name": "Test",
        "tasks": [
            {
                "id": "task1",
                "method": "llm/chat",
                "parameters": {
                    "model": "smollm2:135m",
                    "messages": [{"role": "user", "content": "Hello"}],
                    "max_tokens": 8,
                },
            }
        ],
    }
    result = await client.run_workflow(workflow)
    assert set(result) == {"task1"}
    assert result["task1"]["response"].strip()
    assert result.status == WorkflowStatus.COMPLETED and result.workflow_id


async def test_run_workflow_file_with_inputs_and_outputs(
    client: GleitzeitClient, client_stack: ClientStack
) -> None:
    path = write(
        client_stack.root,
        "template.yaml",
        """
name: template
inputs:
  topic: {type: string}
  length: {type: integer, default: 10}
tasks:
  - id: count
    method: python/execute
    parameters:
      code: |
        import json, sys
        ctx = json.load(sys.stdin)
        print(json.dumps({"topic": ctx["topic"], "double": ctx["length"] * 2}))
      context: {topic: "${inputs.topic}", length: "${inputs.length}"}
outputs:
  double: ${count.result.double}
""",
    )
    result = await client.run_workflow(str(path), inputs={"topic": "AI", "length": 500})
    assert result["count"]["result"] == {"topic": "AI", "double": 1000}
    assert result.outputs == {"double": 1000}


async def test_invalid_workflow_names_file_and_line(
    client: GleitzeitClient, client_stack: ClientStack
) -> None:
    path = write(client_stack.root, "broken.yaml", "name: broken\ntasks:\n  - id: a\n    method: llm/chatt\n")
    with pytest.raises(ValidationError) as info:
        await client.run_workflow(str(path))
    problem = info.value.problems[0]
    assert problem.line == 4 and problem.task == "a" and "broken.yaml" in (problem.file or "")


async def test_failing_task_raises_with_task_attempts_and_cause(
    client: GleitzeitClient, client_stack: ClientStack
) -> None:
    workflow = {
        "name": "fails",
        "tasks": [
            {"id": "ok", "method": "python/execute", "parameters": {"code": "print(1)"}},
            {
                "id": "boom",
                "method": "python/execute",
                "dependencies": ["ok"],
                "parameters": {"code": "raise SystemExit('kaputt')"},
            },
        ],
    }
    with pytest.raises(TaskExecutionError) as info:
        await client.run_workflow(workflow)
    err = info.value
    assert err.task_id == "boom" and err.attempts and err.attempts >= 1
    assert "kaputt" in (err.cause or str(err))
    assert "ok" in err.partial_results


async def test_execute_task(client: GleitzeitClient) -> None:
    task = {
        "id": "analyze",
        "method": "llm/chat",
        "parameters": {
            "model": "smollm2:135m",
            "messages": [{"role": "user", "content": "Analyze this"}],
            "max_tokens": 8,
        },
    }
    result = await client.execute_task(task)
    assert isinstance(result, TaskResult) and result.task_id == "analyze"
    assert result.status == TaskStatus.COMPLETED and result.response.strip()
    typed = await client.execute_task(
        Task(id="calc", method="python/execute", parameters={"code": "print(6*7)"})
    )
    assert typed.response == 42


async def test_execute_task_failure_with_on_error_continue_returns_failed_result(
    client: GleitzeitClient,
) -> None:
    result = await client.execute_task(
        {
            "id": "bad",
            "method": "python/execute",
            "on_error": "continue",
            "parameters": {"code": "raise SystemExit(3)"},
        }
    )
    assert result.status == TaskStatus.FAILED and result.error


async def test_execute_python_script(client: GleitzeitClient, client_stack: ClientStack) -> None:
    script = write(
        client_stack.root,
        "process_data.py",
        "import json, sys\nctx = json.load(sys.stdin)\nprint(json.dumps({'got': ctx['input'], 'n': 2}))\n",
    )
    result = await client.execute_python_script(str(script), args={"input": "data.csv"}, timeout=60)
    assert result == {"got": "data.csv", "n": 2}
    failing = write(client_stack.root, "fails.py", "import sys\nprint('bad', file=sys.stderr)\nsys.exit(4)\n")
    with pytest.raises(ScriptError):
        await client.execute_python_script(str(failing))


async def test_execute_python_script_writes_its_outputs_dir(
    client: GleitzeitClient, client_stack: ClientStack, mode: str
) -> None:
    code = "import json, os\nopen('out.txt', 'w').write('x')\nprint(json.dumps(os.getcwd()))\n"
    script = write(client_stack.root, f"writes_{mode}.py", code)
    # By default the script's own directory, as the reference's Complete Example expects.
    assert await client.execute_python_script(str(script)) == str(script.parent.resolve())
    target = client_stack.root / f"outs-{mode}" / "deeper"
    assert await client.execute_python_script(str(script), outputs_dir=target) == str(target.resolve())
    assert (target / "out.txt").read_text() == "x"
    # Outside the file roots: refused before it runs (403 over the REST API, validation in native).
    elsewhere = client_stack.root.parent / f"not-a-root-{mode}"
    with pytest.raises((PermissionDeniedError, ValidationError), match="outside"):
        await client.execute_python_script(str(script), outputs_dir=elsewhere)
    assert not elsewhere.exists()


async def test_start_workflow_handle(client: GleitzeitClient) -> None:
    workflow = {
        "name": "handle",
        "tasks": [
            {"id": "a", "method": "python/execute", "parameters": {"code": "print(1)"}},
            {
                "id": "b",
                "method": "python/execute",
                "dependencies": ["a"],
                "parameters": {"code": "print(2)"},
            },
            {
                "id": "c",
                "method": "python/execute",
                "when": "${a.result} > 5",
                "parameters": {"code": "print(3)"},
            },
        ],
    }
    run = await client.start_workflow(workflow)
    seen: list[Any] = []
    execution = await run.result(timeout=60, on_progress=seen.append, poll_interval=0.05)
    assert execution.status == WorkflowStatus.COMPLETED
    assert execution.results["b"].result["result"] == 2
    assert execution.results["c"].status == TaskStatus.SKIPPED
    assert seen and seen[-1].completed == 2
    assert await run.status() == WorkflowStatus.COMPLETED
    progress = await run.progress()
    assert progress.total == 3
    events = await run.logs()
    kinds = [(e.event, e.task_id) for e in events]
    assert ("task_completed", "a") in kinds and ("task_started", "b") in kinds
    assert ("task_skipped", "c") in kinds and kinds[-1][0] == "workflow_completed"
    found = await client.get_workflow(run.workflow_id)
    assert (await found.result()).results["a"].result["result"] == 1
    listed = await client.list_workflows(limit=50)
    assert run.workflow_id in {w.workflow_id for w in listed}


async def test_cancel_keeps_finished_results(client: GleitzeitClient) -> None:
    from gleitzeit import WorkflowCancelledError

    workflow = {
        "name": "cancel me",
        "tasks": [
            {"id": "quick", "method": "python/execute", "parameters": {"code": "print(1)"}},
            {
                "id": "slow",
                "method": "python/execute",
                "dependencies": ["quick"],
                "parameters": {"code": "import time\ntime.sleep(60)", "timeout": 120},
            },
        ],
    }
    run = await client.start_workflow(workflow)

    async def running() -> bool:
        return bool((await run.progress()).running)

    await until(running, "a task of the run is running", timeout=60)
    await run.cancel()
    with pytest.raises(WorkflowCancelledError):
        await run.result(timeout=60)
    assert await run.status() == WorkflowStatus.CANCELLED


async def test_unknown_workflow_id(client: GleitzeitClient) -> None:
    with pytest.raises(WorkflowNotFoundError):
        await client.get_workflow("no-such-workflow-id")


async def test_batch_process(client: GleitzeitClient, client_stack: ClientStack, mode: str) -> None:
    docs = client_stack.root / f"documents-{mode}"
    write(docs, "a.txt", "Rivers flow to the sea.")
    write(docs, "b.txt", "Mountains are tall.")
    write(docs, "skip.md", "not matched")
    out = client_stack.root / f"summaries-{mode}"
    results = await client.batch_process(
        directory=str(docs),
        pattern="*.txt",
        prompt="Summarize this document",
        output_dir=str(out),
        max_tokens=8,
    )
    assert set(results) == {"a.txt", "b.txt"}
    assert all(isinstance(v, str) and v.strip() for v in results.values())
    assert not results.errors and results.workflow_id
    assert (out / "a.txt.json").exists()
    saved = json.loads((out / "a.txt.json").read_text())
    assert saved["file"] == "a.txt"


async def test_watch_reruns_when_the_file_changes(client_stack: ClientStack, mode: str) -> None:
    client = client_stack.client(mode)
    path = write(
        client_stack.root,
        f"watched-{mode}.yaml",
        "name: watched\ntasks:\n  - id: v\n    method: python/execute\n    parameters: {code: 'print(1)'}\n",
    )
    seen: list[Any] = []

    def on_result(outcome: Any) -> None:
        seen.append(outcome)
        if len(seen) == 1:
            path.write_text(path.read_text().replace("print(1)", "print(2)"))

    result = await asyncio.wait_for(
        client.run_workflow(str(path), watch=True, max_runs=2, watch_timeout=60, on_result=on_result), 90
    )
    assert result["v"]["result"] == 2 and len(seen) == 2


async def test_waiting_times_out_but_the_run_goes_on(client: GleitzeitClient) -> None:
    from gleitzeit import TimeoutError

    workflow = {
        "name": "slow",
        "tasks": [
            {
                "id": "s",
                "method": "python/execute",
                "parameters": {"code": "import time; time.sleep(30)", "timeout": 60},
            }
        ],
    }
    run = await client.start_workflow(workflow)
    with pytest.raises(TimeoutError) as info:
        await run.result(timeout=0.3)
    assert info.value.workflow_id == run.workflow_id
    assert await run.status() == WorkflowStatus.RUNNING
    await run.cancel()


async def test_unknown_model_in_a_workflow_names_it(client: GleitzeitClient) -> None:
    workflow = {
        "name": "bad model",
        "tasks": [
            {"id": "ask", "method": "llm/chat", "parameters": {"model": "no-such-model:1b", "prompt": "hi"}}
        ],
    }
    with pytest.raises(TaskExecutionError, match="no-such-model") as info:
        await client.run_workflow(workflow)
    assert info.value.task_id == "ask" and info.value.cause_type == "ModelNotFound"
    # It names the models the server has and the alias that would help.
    assert "it has: smollm2:135m" in str(info.value) and "GLEITZEIT_MODEL_ALIASES" in str(info.value)
