"""MCP tool tasks end to end on a real dev server: the original Gleitzeit's two MCP example files run
unchanged against our SDK server (tests/mcp/calc_server.py), and a server no one here wrote (npm's
``@modelcontextprotocol/server-filesystem``) writes and reads a file through a pipeline. Bad input: a
server that does not start, a tool that fails, a tool that hangs (its timeout ends it and its server).
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from gleitzeit.client.specs import load_spec
from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.config import Settings
from gleitzeit.contracts.mcp import McpServerConfig
from gleitzeit.dsl import bind_inputs, load_workflow
from gleitzeit.mcp_tools.check import check_tools
from gleitzeit.worker.build import build_worker
from tests.helpers import until

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(240)]

CALC = Path(__file__).with_name("calc_server.py")


def calc_server(marker: str = "") -> dict[str, Any]:
    """The calc server's entry in the original's format (``marker`` finds its processes later)."""
    return {
        "name": "calc",
        "connection_type": "stdio",
        "command": [sys.executable, str(CALC), *([marker] if marker else [])],
        "auto_start": True,
    }


def settings_with(tmp_path: Path, servers: list[dict[str, Any]]) -> Settings:
    """Worker settings whose ``~/.gleitzeit/config.yaml`` is a file in the original's format."""
    config = tmp_path / "config.yaml"
    config.write_text(yaml.safe_dump({"mcp": {"auto_discover": True, "servers": servers}}))
    return Settings(task_queue=f"mcp-{uuid.uuid4()}", mcp_config_file=config)


def failure(result: Any, task_id: str) -> tuple[str, int | None]:
    """(error text, attempts) of a failed ``on_error: continue`` task."""
    (task,) = [t for t in result.tasks if t.task_id == task_id]
    assert task.state == "failed", task
    return f"{task.error_type}: {task.error}", task.attempts


async def run(env: WorkflowEnvironment, settings: Settings, source: Any) -> Any:
    spec = load_spec(source)
    async with build_worker(env.client, settings):
        handle = await start_pipeline(env.client, spec, bind_inputs(spec, {}), settings)
        return await wait_result(handle)


async def test_the_originals_mcp_examples_run_unchanged(
    local_env: WorkflowEnvironment, original_sdist: Path, tmp_path: Path
) -> None:
    settings = settings_with(tmp_path, [calc_server()])
    simple = await run(local_env, settings, original_sdist / "examples" / "simple_mcp_workflow.yaml")
    r = simple.results
    assert r["echo_test"]["response"] == "Hello from Simple MCP!"
    assert r["calculate_sum"]["result"] == 100 and r["calculate_product"]["result"] == 200
    assert r["combine_results"]["response"] == "Hello from Simple MCP! | Sum was 100 | Product is 200"
    assert r["echo_test"]["tool"] == "echo" and r["echo_test"]["success"] is True

    full = await run(local_env, settings, original_sdist / "examples" / "mcp_workflow.yaml")
    assert full.results["final_concat"]["response"] == (
        "Echo said: Hello from MCP workflow! | Addition result: 123 | Final multiplication: 1230"
    )


async def test_the_npm_filesystem_server_writes_and_reads_a_file(
    local_env: WorkflowEnvironment, npm_filesystem_server: Path, tmp_path: Path
) -> None:
    files = tmp_path / "files"
    files.mkdir()
    target = files / "note.txt"
    pipeline = {
        "name": "filesystem",
        # The pipeline's own servers, in the original's format; ${VAR} comes from the environment.
        "mcp": {
            "servers": [
                {
                    "name": "filesystem",
                    "connection_type": "stdio",
                    "command": ["node", str(npm_filesystem_server), str(files)],
                    "env": {"PATH": "${PATH}"},
                    "tool_prefix": "fs.",
                }
            ]
        },
        "tasks": [
            {
                "id": "write",
                "method": "mcp/tool.fs.write_file",
                "parameters": {"path": str(target), "content": "hello from gleitzeit"},
            },
            {
                "id": "read",
                "method": "mcp/tool.fs.read_text_file",
                "dependencies": ["write"],
                "parameters": {"path": str(target)},
            },
            {"id": "tools", "method": "mcp/tools.list"},
        ],
    }
    result = await run(local_env, Settings(task_queue=f"mcp-{uuid.uuid4()}"), pipeline)
    assert target.read_text() == "hello from gleitzeit"
    assert "hello from gleitzeit" in result.results["read"]["response"]
    assert "fs.read_text_file" in {t["name"] for t in result.results["tools"]["tools"]}


async def test_a_server_that_does_not_start_is_named_with_its_command(
    local_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    broken = {"name": "broken", "command": ["gleitzeit-no-such-mcp-server", "--stdio"]}
    settings = settings_with(tmp_path, [broken])
    started = time.monotonic()
    result = await run(
        local_env,
        settings,
        {
            "tasks": [
                {"id": "t", "method": "mcp/tool.echo", "parameters": {"message": "x"}, "on_error": "continue"}
            ]
        },
    )
    error, attempts = failure(result, "t")
    assert "broken" in error and "gleitzeit-no-such-mcp-server" in error, error
    assert attempts == 1  # not retried: another attempt gives the same answer
    assert time.monotonic() - started < 30


async def test_a_tool_error_fails_the_task_with_the_tools_message(
    local_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    settings = settings_with(tmp_path, [calc_server()])
    result = await run(
        local_env,
        settings,
        {
            "tasks": [
                {
                    "id": "t",
                    "method": "mcp/tool.fail",
                    "parameters": {"reason": "no coffee"},
                    "on_error": "continue",
                }
            ]
        },
    )
    error, attempts = failure(result, "t")
    assert "no coffee" in error and "McpToolError" in error, error
    assert attempts == 1


async def test_a_hanging_tool_ends_at_its_timeout_and_leaves_no_process(
    local_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    marker = f"gleitzeit-test-{uuid.uuid4()}"
    settings = settings_with(tmp_path, [calc_server(marker)])
    task = {
        "id": "t",
        "method": "mcp/tool.hang",
        "timeout": 4,
        "retry": {"max_attempts": 1},
        "on_error": "continue",
    }
    started = time.monotonic()
    result = await run(local_env, settings, {"tasks": [task]})
    error, _ = failure(result, "t")
    assert "time" in error.lower(), error
    assert time.monotonic() - started < 60

    def servers_left() -> list[psutil.Process]:
        return [p for p in psutil.process_iter(["cmdline"]) if marker in (p.info["cmdline"] or [])]

    await until(lambda: not servers_left(), "the hanging tool's server to end", timeout=15)


async def test_validate_names_the_closest_tool_and_stays_bounded(tmp_path: Path) -> None:
    settings = settings_with(tmp_path, [calc_server()])
    spec = load_workflow({"tasks": [{"id": "t", "method": "mcp/tool.ad", "parameters": {"a": 1, "b": 2}}]})
    check = await check_tools(spec, settings)
    (problem,) = check.problems
    assert (
        problem.task == "t" and "unknown MCP tool 'ad'" in problem.message and "'add'" in (problem.hint or "")
    )

    # A server that never answers the handshake: skipped with a note after the check's budget.
    mute = McpServerConfig(name="mute", command=[sys.executable, "-c", "import time; time.sleep(60)"])
    mute_settings = Settings(mcp_servers=[mute.model_dump()], mcp_config_file=tmp_path / "none.yaml")
    started = time.monotonic()
    check = await check_tools(spec, mute_settings, timeout=2)
    assert not check.problems and "mute" in check.notes[0]
    assert time.monotonic() - started < 8
