"""The examples run end to end on real parts (dev server, embedded LLM server, Docker or local
scripts), and their fresh histories replay cleanly; the recorded histories under tests/data/histories
replay too, so a change to the interpreter that breaks open runs is caught.

Re-record after a deliberate, patched change of the workflow:
``GLEITZEIT_RECORD_HISTORIES=1 .venv/bin/pytest tests/integration/test_examples.py``.
``approval_and_timers.json`` is not an example's: a run of time/sleep, time/until and a
human/approval answered once after one refused answer (an update the validator turned away).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import WorkflowHistory
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.config import Settings
from gleitzeit.core.errors import TaskExecutionError
from gleitzeit.dsl import bind_inputs, load_workflow
from gleitzeit.worker.build import WORKFLOWS, build_worker

pytestmark = [pytest.mark.temporal, pytest.mark.llm, pytest.mark.timeout(300)]

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
HISTORIES = ROOT / "tests" / "data" / "histories"
RECORD = os.environ.get("GLEITZEIT_RECORD_HISTORIES") == "1"


async def run_example(env: WorkflowEnvironment, llm_url: str, name: str, inputs: dict[str, Any]) -> Any:
    settings = Settings(task_queue=f"examples-{uuid.uuid4()}", ollama_host=llm_url)
    spec = load_workflow(EXAMPLES / name)
    async with build_worker(env.client, settings):
        handle = await start_pipeline(env.client, spec, bind_inputs(spec, inputs), settings)
        try:
            return await wait_result(handle)
        finally:
            # Failed runs replay too: the failure path of the interpreter must stay deterministic.
            history = await handle.fetch_history()
            await Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter).replay_workflow(
                history
            )
            if RECORD:
                HISTORIES.mkdir(parents=True, exist_ok=True)
                (HISTORIES / f"{Path(name).stem}.json").write_text(history.to_json())


async def test_hello_chain(local_env: WorkflowEnvironment, llm_server: Any) -> None:
    result = await run_example(local_env, llm_server.url, "hello_chain.yaml", {"count": 4})
    assert result.status == "completed"
    assert len(result.outputs["numbers"]) == 4
    assert isinstance(result.outputs["description"], str) and result.outputs["description"].strip()
    assert result.outputs["words"] == len(result.outputs["description"].split())


async def test_fan_out_fan_in(local_env: WorkflowEnvironment, llm_server: Any) -> None:
    result = await run_example(local_env, llm_server.url, "fan_out_fan_in.yaml", {})
    assert result.status == "completed"
    assert {"split", "headline", "keywords", "counts", "combine"} <= set(result.results)


async def test_python_data(local_env: WorkflowEnvironment, llm_server: Any) -> None:
    result = await run_example(local_env, llm_server.url, "python_data.yaml", {"count": 12})
    assert result.status == "completed"
    assert isinstance(result.outputs["mean"], float | int)
    assert "Sensor t1" in result.outputs["report"]


async def test_embeddings(local_env: WorkflowEnvironment, llm_server: Any) -> None:
    result = await run_example(local_env, llm_server.url, "embeddings.yaml", {})
    # The restart sentence is closer to the query than the apples.
    assert result.outputs["closest"] == 0
    assert result.outputs["scores"][0] > result.outputs["scores"][1]


async def test_foreach(local_env: WorkflowEnvironment, llm_server: Any) -> None:
    result = await run_example(local_env, llm_server.url, "foreach.yaml", {})
    assert result.status == "completed"
    answers, sizes = result.outputs["answers"], result.outputs["sizes"]
    assert len(answers) == 3 and all(isinstance(a, str) for a in answers)
    assert sizes == [{"index": i, "chars": len(a)} for i, a in enumerate(answers)]
    assert result.outputs["tokens_of_first"] > 0
    ask = next(t for t in result.tasks if t.task_id == "ask")
    assert (ask.items, ask.items_completed) == (3, 3)


async def test_vision_on_a_text_model_fails_clearly(local_env: WorkflowEnvironment, llm_server: Any) -> None:
    with pytest.raises(TaskExecutionError) as info:
        await run_example(local_env, llm_server.url, "vision.yaml", {})
    assert info.value.task_id == "look"
    assert "vision" in str(info.value).lower()
    assert info.value.attempts in (None, 1)  # bad input: not retried


HISTORY_FILES = sorted(HISTORIES.glob("*.json"))


def _workflow_type(path: Path) -> str:
    import json

    started = json.loads(path.read_text())["events"][0]["workflowExecutionStartedEventAttributes"]
    return str(started["workflowType"]["name"])


def test_recorded_histories_cover_every_workflow() -> None:
    """Every registered workflow has a recorded history, and every history's workflow is registered."""
    assert HISTORY_FILES, f"no recorded histories in {HISTORIES}"
    recorded = {_workflow_type(p) for p in HISTORY_FILES}
    registered = {getattr(w, "__temporal_workflow_definition").name for w in WORKFLOWS}
    assert recorded == registered, f"recorded {sorted(recorded)}, registered {sorted(registered)}"


@pytest.mark.parametrize("path", HISTORY_FILES, ids=[p.stem for p in HISTORY_FILES])
def test_recorded_histories_replay(path: Path) -> None:
    """Each file in tests/data/histories replays against today's workflow code (DagWorkflow and
    BatchWorkflow alike), in the sandboxed Replayer: a change that would break open runs fails here."""
    replayer = Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter)
    history = WorkflowHistory.from_json(path.stem, path.read_text())
    # Raises on any non-determinism against today's workflow code.
    replayer_result = _replay(replayer, history)
    assert replayer_result is None, path.name


def _replay(replayer: Replayer, history: WorkflowHistory) -> None:
    import asyncio

    asyncio.run(replayer.replay_workflow(history))
    return None
