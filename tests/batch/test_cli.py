"""`gleitzeit run` on a batch-form file goes through BatchWorkflow: progress on stderr, results on
stdout, exit codes. Real dev server, the CLI in a subprocess with its in-process worker, OllamaDouble."""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from gleitzeit.batch.inputs import batch_input_from_spec
from gleitzeit.config import Settings
from gleitzeit.dsl import load_workflow
from tests.batch.harness import make_tree
from tests.doubles.ollama_double import OllamaDouble
from tests.helpers import require, venv_binary

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(120)]

WORKFLOW = """
name: cli-batch
type: batch
inputs:
  style: {type: string, default: briefly}
batch: {directory: docs, pattern: "*.txt", max_concurrent: 3}
template:
  method: llm/chat
  model: smollm2:135m
  on_error: {on_error}
  messages:
    - role: user
      content: Summarize ${inputs.style}.
"""


async def run_cli(
    tmp_path: Path, env: WorkflowEnvironment, double: OllamaDouble, *args: str
) -> tuple[int, str, str]:
    binary = venv_binary("gleitzeit")
    require(binary is not None, "the gleitzeit console script", "pip install -e .")
    assert binary is not None
    environ = {
        **os.environ,
        "GLEITZEIT_TEMPORAL_ADDRESS": env.client.service_client.config.target_host,
        "GLEITZEIT_TASK_QUEUE": f"cli-batch-{tmp_path.name}",
        "GLEITZEIT_AUTO_START_TEMPORAL": "false",
        "GLEITZEIT_AUTO_START_LLM": "false",
        "GLEITZEIT_DATA_DIR": str(tmp_path / "data"),
        "OLLAMA_HOST": double.url,
    }
    proc = await asyncio.create_subprocess_exec(
        binary, "run", *args, env=environ, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 90)
    assert proc.returncode is not None
    return proc.returncode, stdout.decode(), stderr.decode()


@pytest.fixture
async def double() -> AsyncIterator[OllamaDouble]:
    async with OllamaDouble() as d:
        yield d


async def test_run_prints_each_file_and_exits_0(
    local_env: WorkflowEnvironment, tmp_path: Path, double: OllamaDouble
) -> None:
    names = make_tree(tmp_path / "docs", 4)
    wf = tmp_path / "batch.yaml"
    wf.write_text(WORKFLOW.replace("{on_error}", "fail"))
    rc, out, err = await run_cli(
        tmp_path, local_env, double, str(wf), "--worker", "always", "-i", "style=shortly"
    )
    assert rc == 0, err
    for name in names:
        assert f"{name}: echo: content of {name}" in out
    assert "4 of 4 files done" in err and "[4/4] files done" in err
    assert {r.text for r in double.calls("/api/chat")} == {
        f"content of {n}\n\nSummarize shortly." for n in names
    }


async def test_run_json_and_the_exit_code_of_failed_files(
    local_env: WorkflowEnvironment, tmp_path: Path, double: OllamaDouble
) -> None:
    make_tree(tmp_path / "docs", 3)
    double.fail(times=None, status=400, contains="f00001")  # a bad request: not retried
    wf = tmp_path / "batch.yaml"
    wf.write_text(WORKFLOW.replace("{on_error}", "fail"))
    rc, out, err = await run_cli(tmp_path, local_env, double, str(wf), "--worker", "always", "--json")
    assert rc == 1, err
    result = json.loads(out)
    assert (result["completed"], result["failed"]) == (2, 1) and "f00001.txt" in result["errors"]

    wf.write_text(WORKFLOW.replace("{on_error}", "continue"))
    rc, out, err = await run_cli(tmp_path, local_env, double, str(wf), "--worker", "always")
    assert rc == 0, err
    assert "file f00001.txt failed" in err


def test_the_template_becomes_the_batch_input(tmp_path: Path) -> None:
    make_tree(tmp_path / "docs", 1)
    wf = tmp_path / "batch.yaml"
    wf.write_text(WORKFLOW.replace("{on_error}", "fail"))
    inp = batch_input_from_spec(load_workflow(wf), {"style": "well"}, Settings())
    assert (inp.directory, inp.pattern, inp.max_concurrent, inp.method) == ("docs", "*.txt", 3, "llm/chat")
    assert inp.base_dir == str(tmp_path) and inp.name == "cli-batch"
    assert inp.parameters["messages"] == [{"role": "user", "content": "Summarize well."}]
