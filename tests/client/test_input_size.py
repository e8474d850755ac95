"""A pipeline too large for Temporal's input limit is refused before the start, saying what to do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from gleitzeit.client.specs import load_spec
from gleitzeit.client.starter import MAX_INPUT_BYTES, check_input_size, start_pipeline
from gleitzeit.config import Settings
from gleitzeit.contracts.dag import DagInput
from gleitzeit.core.errors import ValidationError

BATCH = """name: summaries
type: batch
batch:
  directory: docs
  pattern: "*.txt"
  max_concurrent: 4
template:
  method: llm/chat
  parameters:
    model: smollm2:135m
    messages: [{role: user, content: "Summarize this document"}]
"""


def _batch_file(tmp_path: Path, files: int) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(files):
        (docs / f"report_{i:05d}.txt").write_text("x")
    wf = tmp_path / "summaries.yaml"
    wf.write_text(BATCH)
    return wf


async def test_a_batch_form_of_thousands_of_files_points_to_the_durable_batch(tmp_path: Path) -> None:
    # ~420 bytes per expanded task: 5,200 files come to over 2 MB. Refused before any call to Temporal
    # (the client here is None), with the file, the count and the ways that page through the files.
    wf = _batch_file(tmp_path, 5200)
    spec = load_spec(str(wf))
    client: Any = None
    with pytest.raises(ValidationError) as info:
        await start_pipeline(client, spec, {}, Settings())
    problem = info.value.problems[0]
    assert problem.file == str(wf) and problem.key == "batch" and problem.code == "too-large"
    assert "5200 files" in problem.message
    assert problem.hint is not None and "gleitzeit run" in problem.hint and "/v1/batch" in problem.hint


def test_a_small_batch_form_passes(tmp_path: Path) -> None:
    spec = load_spec(str(_batch_file(tmp_path, 50)))
    check_input_size(DagInput(spec=spec, inputs={}))


def test_large_inline_inputs_are_named_with_what_to_do() -> None:
    spec = load_spec(
        {
            "name": "big inline",
            "inputs": {"text": {"type": "string"}},
            "tasks": [
                {"id": "t", "method": "llm/chat", "parameters": {"model": "m", "prompt": "${inputs.text}"}}
            ],
        }
    )
    with pytest.raises(ValidationError) as info:
        check_input_size(DagInput(spec=spec, inputs={"text": "x" * (MAX_INPUT_BYTES + 1)}))
    problem = info.value.problems[0]
    assert "big inline" in problem.message and problem.code == "too-large"
    assert problem.hint is not None and "through files" in problem.hint
