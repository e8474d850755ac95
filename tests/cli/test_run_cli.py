"""`gleitzeit run` and `gleitzeit worker` as users call them: real processes, exit codes, output."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from tests.helpers import free_port, venv_binary

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]


def gleitzeit(*args: str, env: dict[str, str], timeout: float = 150) -> subprocess.CompletedProcess[str]:
    binary = venv_binary("gleitzeit")
    assert binary
    return subprocess.run(
        [binary, *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
        cwd=ROOT,
    )


@pytest.fixture
def server_env(local_env: WorkflowEnvironment, tmp_path: Path) -> dict[str, str]:
    """Point the CLI at the session's dev server, on a queue of its own, with no LLM server start."""
    return {
        "GLEITZEIT_TEMPORAL_ADDRESS": local_env.client.service_client.config.target_host,
        "GLEITZEIT_TASK_QUEUE": f"cli-{uuid.uuid4()}",
        "GLEITZEIT_AUTO_START_LLM": "false",
        "GLEITZEIT_EXECUTOR": "local",
        "GLEITZEIT_DATA_DIR": str(tmp_path),
    }


def test_invalid_file_exits_2_naming_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntasks:\n  - id: a\n    method: llm/chatt\n    parameters: {model: m}\n")
    proc = gleitzeit("run", str(bad), env={"GLEITZEIT_AUTO_START_TEMPORAL": "false"})
    assert proc.returncode == 2, proc.stderr
    assert f"{bad}:4" in proc.stderr and "llm/chat" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_missing_required_input_exits_2(tmp_path: Path) -> None:
    wf = tmp_path / "needs.yaml"
    wf.write_text(
        "name: needs\ninputs:\n  who: {type: string}\ntasks:\n  - id: a\n    method: python/execute\n"
        "    parameters: {code: 'print(1)', context: {who: '${inputs.who}'}}\n"
    )
    proc = gleitzeit("run", str(wf), env={"GLEITZEIT_AUTO_START_TEMPORAL": "false"})
    assert proc.returncode == 2
    assert "who" in proc.stderr and "Traceback" not in proc.stderr


def test_run_succeeds_with_outputs_and_json(server_env: dict[str, str]) -> None:
    proc = gleitzeit("run", "examples/python_data.yaml", "-i", "count=8", "--json", env=server_env)
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)
    assert result["status"] == "completed"
    assert set(result["outputs"]) == {"mean", "high_count", "report"}
    assert "started an in-process worker" in proc.stderr
    assert "/namespaces/default/workflows/python-data-" in proc.stderr  # the web UI link


def test_failed_task_exits_1_naming_task_and_cause(server_env: dict[str, str], tmp_path: Path) -> None:
    wf = tmp_path / "fails.yaml"
    wf.write_text(
        "name: fails\ntasks:\n  - id: ok\n    method: python/execute\n    parameters: {code: 'print(1)'}\n"
        "  - id: boom\n    method: python/execute\n    dependencies: [ok]\n"
        "    parameters:\n      code: |\n        import sys\n        print('disk on fire', file=sys.stderr)\n"
        "        sys.exit(3)\n"
    )
    proc = gleitzeit("run", str(wf), env=server_env)
    assert proc.returncode == 1, proc.stderr
    assert "boom" in proc.stderr and "disk on fire" in proc.stderr
    assert "ScriptError" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_failed_run_json_keeps_results_and_task_states(server_env: dict[str, str], tmp_path: Path) -> None:
    wf = tmp_path / "fails.yaml"
    wf.write_text(
        "name: fails\ntasks:\n  - id: ok\n    method: python/execute\n    parameters: {code: 'print(41)'}\n"
        "  - id: boom\n    method: python/execute\n    dependencies: [ok]\n"
        "    parameters: {code: 'raise SystemExit(3)'}\n"
        "  - id: after\n    method: python/execute\n    dependencies: [boom]\n    parameters: {code: 'print(1)'}\n"
    )
    proc = gleitzeit("run", str(wf), "--json", env=server_env)
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    # A successful run's shape, plus the error fields.
    assert {"workflow_id", "name", "status", "results", "outputs", "tasks", "warnings"} <= set(report)
    assert (report["status"], report["name"], report["task_id"]) == ("failed", "fails", "boom")
    assert report["error_type"] == "ScriptError" and report["attempts"] == 1
    assert "exit code 3" in report["error"]
    assert report["results"]["ok"]["result"] == 41
    states = {t["task_id"]: t["state"] for t in report["tasks"]}
    assert states["ok"] == "completed" and states["boom"] == "failed"
    assert states["after"] in ("pending", "skipped", "cancelled")


def test_run_starts_the_dev_server_when_none_answers(tmp_path: Path) -> None:
    env = {
        "GLEITZEIT_TEMPORAL_ADDRESS": f"127.0.0.1:{free_port()}",
        "GLEITZEIT_UI_PORT": str(free_port()),
        "GLEITZEIT_DATA_DIR": str(tmp_path),
        "GLEITZEIT_AUTO_START_LLM": "false",
        "GLEITZEIT_EXECUTOR": "local",
    }
    try:
        proc = gleitzeit("run", "examples/python_data.yaml", env=env)
        assert proc.returncode == 0, proc.stderr
        assert "started the Temporal dev server" in proc.stderr
        assert (tmp_path / "temporal.db").exists()  # the history is persistent
        # A second run reuses the running server.
        again = gleitzeit("run", "examples/python_data.yaml", env=env)
        assert again.returncode == 0 and "started the Temporal dev server" not in again.stderr
    finally:
        stopped = gleitzeit("dev", "--stop", env=env, timeout=60)
    assert "dev server stopped" in stopped.stderr


def test_worker_stops_gracefully_on_sigterm(server_env: dict[str, str], tmp_path: Path) -> None:
    binary = venv_binary("gleitzeit")
    assert binary
    proc = subprocess.Popen(
        [binary, "worker"],
        env={**os.environ, **server_env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        first = ""
        while time.monotonic() < deadline and "polling" not in first:
            first += proc.stdout.readline() if proc.stdout else ""
        assert "polling task queue" in first
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0
    assert "worker stopped" in out
