"""Finding runs by pipeline: the `temporal` CLI's list query on our search attribute, and describe."""

from __future__ import annotations

import json
import time

import pytest

from tests.deploy.conftest import DevServer, FinishedRun

pytestmark = [pytest.mark.temporal]


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
