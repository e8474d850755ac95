"""Metrics and health of a real worker and a real API after a real pipeline run (issue 26).

`gleitzeit worker --metrics-port` and `gleitzeit serve --worker never` run as processes against the
dev server and the embedded LLM server; a pipeline (a script, then an LLM call) goes in through the
REST API. Both /metrics are parsed with prometheus_client's parser: Gleitzeit's families with the
run's samples, the Temporal SDK's runtime metrics, and every metric the Grafana dashboard queries.
/healthz says the worker polls, with its slots; /v1/ready says the API reaches Temporal.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from gleitzeit.core.metrics import METRIC_NAMES
from tests.deploy.conftest import DevServer
from tests.helpers import free_port, venv_binary

pytestmark = [pytest.mark.temporal, pytest.mark.llm, pytest.mark.timeout(180)]

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "gleitzeit.json"
START_TIMEOUT = 40.0

PIPELINE = {
    "name": "metrics-probe",
    "tasks": [
        {
            "id": "numbers",
            "method": "python/execute",
            "parameters": {"code": "import json\nprint(json.dumps({'n': 3}))", "executor": "local"},
        },
        {
            "id": "say",
            "method": "llm/generate",
            "dependencies": ["numbers"],
            "parameters": {"model": "smollm2:135m", "prompt": "Say ${numbers.result.n}.", "max_tokens": 8},
        },
    ],
}


@contextlib.contextmanager
def _process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    gleitzeit = venv_binary("gleitzeit")
    assert gleitzeit is not None
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [gleitzeit, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def _wait_for(url: str, proc: subprocess.Popen[bytes], log: Path, want: int = 200) -> httpx.Response:
    deadline = time.monotonic() + START_TIMEOUT
    last: Any = None
    while time.monotonic() < deadline:
        assert proc.poll() is None, (
            f"{url}: the process exited ({proc.returncode}):\n{log.read_text()[-3000:]}"
        )
        try:
            last = httpx.get(url, timeout=5)
            if last.status_code == want:
                return last
        except httpx.HTTPError as exc:
            last = exc
        time.sleep(0.3)
    raise AssertionError(
        f"{url} did not answer {want} in {START_TIMEOUT} s: {last}\n{log.read_text()[-3000:]}"
    )


def _families(text: str) -> dict[str, Any]:
    return {f.name: f for f in text_string_to_metric_families(text)}


def _sample_names(families: dict[str, Any]) -> set[str]:
    return {s.name for f in families.values() for s in f.samples} | set(families)


def _value(families: dict[str, Any], sample: str, **labels: str) -> float:
    return sum(
        s.value
        for f in families.values()
        for s in f.samples
        if s.name == sample and all(s.labels.get(k) == v for k, v in labels.items())
    )


def test_worker_and_api_metrics_and_health_after_a_real_run(
    dev_server: DevServer, llm_server: Any, tmp_path: Path
) -> None:
    queue = f"metrics-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "GLEITZEIT_TEMPORAL_ADDRESS": dev_server.address,
        "GLEITZEIT_TASK_QUEUE": queue,
        "GLEITZEIT_AUTO_START_TEMPORAL": "false",
        "GLEITZEIT_AUTO_START_LLM": "false",
        "GLEITZEIT_EXECUTOR": "local",
        "GLEITZEIT_DATA_DIR": str(tmp_path / "data"),
        "OLLAMA_HOST": llm_server.url,
    }
    metrics_port, api_port = free_port(), free_port()
    worker_log, api_log = tmp_path / "worker.log", tmp_path / "api.log"
    started = time.monotonic()
    with (
        _process(["worker", "--metrics-port", str(metrics_port)], env, worker_log) as worker,
        _process(["serve", "--port", str(api_port), "--worker", "never"], env, api_log) as api,
    ):
        health = _wait_for(f"http://127.0.0.1:{metrics_port}/healthz", worker, worker_log).json()
        assert health["healthy"] and health["polling"] and health["running"]
        assert health["slots"]["ActivityWorker"]["available"] > 0
        assert health["pollers"]["activity_task"] > 0
        ready = _wait_for(f"http://127.0.0.1:{api_port}/v1/ready", api, api_log).json()
        assert ready["ready"] is True
        print(f"worker and API ready after {time.monotonic() - started:.1f} s")

        answer = httpx.post(
            f"http://127.0.0.1:{api_port}/v1/workflows",
            json={"spec": PIPELINE, "wait": True, "timeout": 120},
            timeout=150,
        )
        assert answer.status_code in (200, 201), answer.text
        assert answer.json()["status"] == "completed", answer.text

        print(f"run done after {time.monotonic() - started:.1f} s")
        # `gleitzeit status` reads the worker's health endpoint; a dead one makes it exit 1.
        dead = f"127.0.0.1:{free_port()}"
        status = subprocess.run(
            [str(venv_binary("gleitzeit")), "status", "--json", "--mode", "native"]
            + ["--worker-health", f"127.0.0.1:{metrics_port}", "--worker-health", dead],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        reports = {r["url"]: r for r in json.loads(status.stdout)["workers"]["health"]}
        assert reports[f"http://127.0.0.1:{metrics_port}/healthz"]["polling"] is True, status.stdout
        assert reports[f"http://{dead}/healthz"]["healthy"] is False
        assert status.returncode == 1
        worker_text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=10).text
        api_text = httpx.get(f"http://127.0.0.1:{api_port}/metrics", timeout=10).text
        assert httpx.get(f"http://127.0.0.1:{metrics_port}/nothing", timeout=5).status_code == 404

    worker_families, api_families = _families(worker_text), _families(api_text)
    names = _sample_names(worker_families)
    # Ours, with the run's samples: per method, the LLM's latency and tokens by model and host.
    for name in METRIC_NAMES:
        assert name.removesuffix("_total") in worker_families, f"{name} missing from the worker's /metrics"
    assert _value(worker_families, "gleitzeit_tasks_started_total", method="python.execute") == 1
    assert _value(worker_families, "gleitzeit_tasks_completed_total", method="llm.generate") == 1
    host = llm_server.url.rstrip("/")
    assert _value(worker_families, "gleitzeit_llm_request_duration_seconds_count", host=host) == 1
    assert _value(worker_families, "gleitzeit_llm_tokens_total", host=host, kind="completion") > 0
    assert _value(worker_families, "gleitzeit_script_duration_seconds_count", exit_kind="ok") == 1
    # The SDK's runtime metrics on the same port: slots, pollers, schedule-to-start.
    assert _value(worker_families, "temporal_worker_task_slots_available", worker_type="ActivityWorker") > 0
    assert "temporal_activity_schedule_to_start_latency_bucket" in names
    # Every metric the dashboard queries exists in what the worker exports.
    exprs = [t["expr"] for p in json.loads(DASHBOARD.read_text())["panels"] for t in p["targets"]]
    queried = {m for e in exprs for m in re.findall(r"\b(?:gleitzeit|temporal)_[a-z_]+", e)}
    # Families this run left without samples (failures, retries, batch files) are declared by name.
    declared = {f"{n}_bucket" for n in METRIC_NAMES} | set(METRIC_NAMES)
    unknown = queried - names - declared
    assert queried and not unknown, f"dashboard queries unknown metrics: {sorted(unknown)}"
    # The API: its client's SDK metrics (it started the run) and the process collectors.
    assert _value(api_families, "temporal_request_total", operation="StartWorkflowExecution") >= 1
    assert "process_cpu_seconds" in api_families
