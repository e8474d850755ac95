"""The original Gleitzeit's example files (its 0.0.5 sdist, see tests/fixtures/original.py) load and run
unchanged, from the sdist's root as its README runs them.

Of its 24 non-MCP example files, three name a script the sdist lacks (``examples/scripts/
test_context.py``, ``analyze_batch_results.py``); every other one validates. The text and python ones
run end to end on the embedded LLM server, in a copy whose ``model:`` is the bundled model.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from gleitzeit.client.specs import load_spec
from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.config import Settings
from gleitzeit.core.errors import ValidationError
from gleitzeit.dsl import bind_inputs, load_workflow
from gleitzeit.worker.build import build_worker
from tests.fixtures.original import with_model

MCP_EXAMPLES = {
    "mcp_config",
    "mcp_external_workflow",
    "mcp_mixed_workflow",
    "mcp_workflow",
    "simple_mcp_workflow",
}
MISSING_SCRIPT = {"test_context_workflow", "test_mixed_substitution", "batch_mixed_workflow"}
# Text and python examples run end to end (the vision ones need a vision model; the bundled one is not).
RUN = {
    "simple_python_workflow": {"run_python_script"},
    "python_only_workflow": {"generate_data", "calculate_stats", "create_report"},
    "test_complex_python": None,
    "batch_python_workflow": None,
    "simple_llm_workflow": None,
    "dependent_workflow": None,
    "text_file_workflow": None,
    "batch_text_dynamic": None,
}


def _examples(root: Path) -> list[Path]:
    return sorted(p for p in (root / "examples").glob("*.yaml") if p.stem not in MCP_EXAMPLES)


def test_every_example_validates(original_sdist: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(original_sdist)
    files = _examples(original_sdist)
    assert len(files) == 24
    failing: dict[str, str] = {}
    for path in files:
        try:
            load_workflow(Path("examples") / path.name)
        except ValidationError as exc:
            failing[path.stem] = str(exc)
    assert set(failing) == MISSING_SCRIPT, failing
    for stem in MISSING_SCRIPT:
        assert "does not exist" in failing[stem]


async def _run(env: WorkflowEnvironment, settings: Settings, path: Path) -> Any:
    spec = load_spec(path)
    async with build_worker(env.client, settings):
        handle = await start_pipeline(env.client, spec, bind_inputs(spec, {}), settings)
        return await wait_result(handle)


@pytest.mark.temporal
@pytest.mark.llm
@pytest.mark.timeout(300)
async def test_text_and_python_examples_run(
    local_env: WorkflowEnvironment,
    llm_server: Any,
    original_sdist: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(original_sdist)
    settings = Settings(task_queue=f"original-{uuid.uuid4()}", ollama_host=llm_server.url, executor="local")
    for stem, tasks in RUN.items():
        result = await _run(
            local_env, settings, with_model(original_sdist / "examples" / f"{stem}.yaml", tmp_path)
        )
        assert result.status == "completed", stem
        if tasks is not None:
            assert tasks <= set(result.results), stem
        results = result.results
        if stem == "python_only_workflow":
            # The scripts read the global `context` and leave their answer in a module-level `result`.
            numbers = results["generate_data"]["result"]["numbers"]
            assert results["calculate_stats"]["result"]["sum"] == sum(numbers)
            assert results["create_report"]["result"] is not None
        if stem == "text_file_workflow":
            # ${task.result.content} is the answer text: the sequel prompt holds the summary.
            assert all(isinstance(r["response"], str) for r in results.values())
        if stem in ("batch_python_workflow", "batch_text_dynamic"):
            assert len(results) == 3, stem  # examples/documents/*.txt, found from the current directory
        if stem == "batch_python_workflow":
            assert all(r["result"]["success"] for r in results.values())
