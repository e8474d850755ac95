"""`gleitzeit status|list|result|cancel|chat|batch|serve` as processes against the session stack."""

from __future__ import annotations

import json

import pytest

from tests.client.subprocesses import run_cli
from tests.fixtures.client import ClientStack

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(240)]


@pytest.mark.parametrize("mode", ["native", "api"])
async def test_status(client_stack: ClientStack, mode: str) -> None:
    done = await run_cli(client_stack, mode, "status", "--mode", mode, "--json")
    assert done.returncode == 0, done.stderr
    answer = json.loads(done.stdout)
    assert answer["mode"] == mode and answer["temporal"]["available"] is True
    plain = await run_cli(client_stack, mode, "status", "--mode", mode)
    assert plain.returncode == 0 and "temporal" in plain.stdout


async def test_list_result_and_cancel(client_stack: ClientStack) -> None:
    run = await client_stack.api.start_workflow(
        {
            "name": "cli run",
            "tasks": [{"id": "a", "method": "python/execute", "parameters": {"code": "print(7)"}}],
        }
    )
    await run.result(timeout=60)
    listed = await run_cli(client_stack, "api", "list", "--mode", "api", "--json", "-n", "50")
    assert listed.returncode == 0, listed.stderr
    assert run.workflow_id in {r["workflow_id"] for r in json.loads(listed.stdout)}
    table = await run_cli(client_stack, "native", "list", "--mode", "native", "--status", "completed")
    assert table.returncode == 0 and ("cli run" in table.stdout or run.workflow_id in table.stdout)

    result = await run_cli(client_stack, "api", "result", run.workflow_id, "--mode", "api", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["results"]["a"]["result"]["result"] == 7
    plain = await run_cli(client_stack, "native", "result", run.workflow_id, "--mode", "native")
    assert plain.returncode == 0 and "a: 7" in plain.stdout

    unknown = await run_cli(client_stack, "api", "result", "no-such-run", "--mode", "api")
    assert unknown.returncode == 1 and "no-such-run" in unknown.stderr and "Traceback" not in unknown.stderr

    slow = await client_stack.api.start_workflow(
        {
            "name": "cli cancel",
            "tasks": [
                {
                    "id": "s",
                    "method": "python/execute",
                    "parameters": {"code": "import time; time.sleep(60)", "timeout": 120},
                }
            ],
        }
    )
    cancelled = await run_cli(client_stack, "api", "cancel", slow.workflow_id, "--mode", "api")
    assert cancelled.returncode == 0, cancelled.stderr
    failed = await run_cli(
        client_stack, "api", "result", slow.workflow_id, "--mode", "api", "--timeout", "60"
    )
    assert failed.returncode == 1 and "cancelled" in failed.stderr


@pytest.mark.llm
@pytest.mark.parametrize("mode", ["native", "api"])
async def test_chat(client_stack: ClientStack, mode: str) -> None:
    done = await run_cli(client_stack, mode, "chat", "Say hi", "--max-tokens", "8", "--mode", mode)
    assert done.returncode == 0 and done.stdout.strip(), done.stderr
    streamed = await run_cli(
        client_stack, mode, "chat", "Say hi", "--max-tokens", "8", "--stream", "--mode", mode
    )
    assert streamed.returncode == 0 and streamed.stdout.strip(), streamed.stderr
    missing = await run_cli(client_stack, mode, "chat", "hi", "--model", "no-such-model:1b", "--mode", mode)
    assert missing.returncode == 1 and "no-such-model" in missing.stderr


@pytest.mark.llm
async def test_llm_models(client_stack: ClientStack) -> None:
    listed = await run_cli(client_stack, "native", "llm", "models", "--json", "--mode", "native")
    assert listed.returncode == 0, listed.stderr
    models = {m["name"]: m for m in json.loads(listed.stdout)}
    assert "completion" in models["smollm2:135m"]["capabilities"] and models["smollm2:135m"]["size"]
    table = await run_cli(client_stack, "api", "llm", "models", "--mode", "api")
    assert table.returncode == 0, table.stderr
    assert "smollm2:135m" in table.stdout and "completion" in table.stdout and "MB" in table.stdout


async def test_batch(client_stack: ClientStack) -> None:
    docs = client_stack.root / "cli-docs"
    docs.mkdir()
    (docs / "one.txt").write_text("Cats sleep a lot.")
    (docs / "two.txt").write_text("Dogs bark.")
    done = await run_cli(
        client_stack,
        "api",
        "batch",
        str(docs),
        "--pattern",
        "*.txt",
        "--max-tokens",
        "8",
        "--mode",
        "api",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    assert set(json.loads(done.stdout)["results"]) == {"one.txt", "two.txt"}
    bad = await run_cli(
        client_stack, "native", "batch", str(docs), "--max-concurrent", "0", "--mode", "native"
    )
    assert bad.returncode == 2


async def test_serve_help_and_bad_mode(client_stack: ClientStack) -> None:
    done = await run_cli(client_stack, "api", "serve", "--help")
    assert done.returncode == 0 and "--port" in done.stdout
    bad = await run_cli(client_stack, "api", "status", "--mode", "sideways")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
