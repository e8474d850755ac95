"""Finding runs by pipeline: the `temporal` CLI's list query on our search attribute, and describe."""

from __future__ import annotations

import json
import os
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from gleitzeit.services.temporal_dev import SEARCH_ATTRIBUTES
from tests.deploy.conftest import DevServer, FinishedRun

pytestmark = [pytest.mark.temporal]

SETUP_SCRIPT = Path(__file__).resolve().parents[2] / "deploy" / "temporal" / "setup-namespace.sh"


def test_readable_workflow_id(finished_run: FinishedRun) -> None:
    slug = finished_run.pipeline.replace(" ", "-")
    assert finished_run.workflow_id.startswith(slug + "-")
    assert len(finished_run.workflow_id) == len(slug) + 9  # "-" + 8 hex digits


def test_list_query_by_pipeline_finds_the_run(dev_server: DevServer, finished_run: FinishedRun) -> None:
    query = f"GleitzeitPipeline='{finished_run.pipeline}'"
    deadline = time.monotonic() + 20  # visibility is eventually consistent
    while True:
        out = dev_server.cli("workflow", "list", "--query", query, "--output", "json")
        assert out.returncode == 0, out.stderr
        ids = [w["execution"]["workflowId"] for w in json.loads(out.stdout or "[]")]
        if ids or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert ids == [finished_run.workflow_id]
    # The same query with a status filter, as docs/web_ui.md shows it.
    out = dev_server.cli(
        "workflow", "list", "--query", f"{query} AND ExecutionStatus='Completed'", "--output", "json"
    )
    assert [w["execution"]["workflowId"] for w in json.loads(out.stdout or "[]")] == ids


def test_describe_shows_summary_and_details(dev_server: DevServer, finished_run: FinishedRun) -> None:
    out = dev_server.cli(
        "workflow", "describe", "--workflow-id", finished_run.workflow_id, "--output", "json"
    )
    assert out.returncode == 0, out.stderr
    text = out.stdout
    described = json.loads(text)
    assert f"{finished_run.pipeline} (3 tasks)" in text, text[:3000]
    assert "load-numbers, sum-numbers, format-report" in text
    assert "GleitzeitPipeline" in json.dumps(described.get("workflowExecutionInfo", described))


def test_compose_setup_job_registers_namespace_and_attributes(dev_server: DevServer) -> None:
    """deploy/temporal/setup-namespace.sh (the compose one-shot job) against a real server, twice."""
    namespace = f"gz-setup-{uuid.uuid4().hex[:6]}"
    env = {
        **os.environ,
        "PATH": f"{Path(dev_server.temporal).parent}:{os.environ.get('PATH', '')}",
        "TEMPORAL_ADDRESS": dev_server.address,
        "TEMPORAL_NAMESPACE": namespace,
    }
    for _ in range(2):  # idempotent: the second run finds everything in place
        out = subprocess.run(["sh", str(SETUP_SCRIPT)], env=env, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stdout + out.stderr
    assert "search attribute GleitzeitPipeline exists" in out.stdout
    listed = dev_server.cli("operator", "search-attribute", "list", "--namespace", namespace)
    for name, kind in SEARCH_ATTRIBUTES.items():
        assert any(line.split() == [name, kind] for line in listed.stdout.splitlines()), listed.stdout
