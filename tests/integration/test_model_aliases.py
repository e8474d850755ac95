"""GLEITZEIT_MODEL_ALIASES on a real worker: a pipeline written for ``llama3.2`` runs on the embedded
LLM server's ``smollm2:135m`` when the worker is told so, and its result says which model answered."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.config import Settings
from gleitzeit.dsl import load_workflow
from gleitzeit.worker.build import build_worker

pytestmark = [pytest.mark.temporal, pytest.mark.llm, pytest.mark.timeout(120)]

PIPELINE = """\
name: written for llama3.2
tasks:
  - id: ask
    method: llm/chat
    parameters:
      model: llama3.2
      max_tokens: 4
      messages: [{role: user, content: "Say hi."}]
"""


async def test_an_alias_runs_a_llama_pipeline_on_the_embedded_model(
    local_env: WorkflowEnvironment, llm_server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("GLEITZEIT_MODEL_ALIASES", "llama3.2=smollm2:135m")
    settings = Settings(task_queue=f"aliases-{uuid.uuid4()}", ollama_host=llm_server.url)
    (tmp_path / "llama.yaml").write_text(PIPELINE)
    async with build_worker(local_env.client, settings):
        handle = await start_pipeline(local_env.client, load_workflow(tmp_path / "llama.yaml"), {}, settings)
        result = await wait_result(handle)
    assert result.results["ask"]["model"] == "smollm2:135m"
    assert result.results["ask"]["response"].strip()
