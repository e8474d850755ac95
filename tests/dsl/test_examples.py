"""The shipped examples validate, and have the shape their README promises."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gleitzeit.cli import app
from gleitzeit.dsl import expand_batch, load_workflow

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = sorted(p for p in EXAMPLES.glob("*.yaml") if not p.name.endswith(".test.yaml"))


def test_the_promised_examples_exist() -> None:
    names = {p.name for p in FILES}
    assert {
        "hello_chain.yaml",
        "fan_out_fan_in.yaml",
        "python_data.yaml",
        "vision.yaml",
        "batch_summaries.yaml",
    } <= names


def test_every_example_has_a_test_file_that_validates() -> None:
    tests = sorted(EXAMPLES.glob("*.test.yaml"))
    assert {p.name.removesuffix(".test.yaml") for p in tests} == {p.stem for p in FILES}
    result = CliRunner().invoke(app, ["validate", *map(str, FILES), *map(str, tests)])
    assert result.exit_code == 0, result.output
    assert "hello_chain.test.yaml: ok (3 test cases)" in result.output


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_example_loads(path: Path) -> None:
    spec = load_workflow(path)
    spec = expand_batch(spec)
    assert spec.tasks
    for task in spec.tasks:
        model = task.parameters.get("model")
        if task.method.startswith("llm/") and isinstance(model, str) and "${" not in model:
            assert model in ("smollm2:135m", "all-minilm")


def test_hello_chain_mixes_python_and_llm() -> None:
    spec = load_workflow(EXAMPLES / "hello_chain.yaml")
    assert [t.method for t in spec.tasks] == ["python/execute", "llm/chat", "python/execute"]
    assert spec.tasks[1].parameters["max_tokens"] <= 64
    assert spec.inputs and spec.outputs


def test_vision_image_is_a_png() -> None:
    assert (EXAMPLES / "data" / "shapes.png").read_bytes().startswith(b"\x89PNG\r\n\x1a\n")


def test_cli_validates_all_examples() -> None:
    result = CliRunner().invoke(app, ["validate", *map(str, FILES)])
    assert result.exit_code == 0, result.output
    assert result.output.count(": ok") == len(FILES)


def test_cli_json_output() -> None:
    result = CliRunner().invoke(app, ["validate", "--json", str(EXAMPLES / "hello_chain.yaml")])
    assert result.exit_code == 0
    (entry,) = json.loads(result.output)
    assert entry == {
        "file": str(EXAMPLES / "hello_chain.yaml"),
        "valid": True,
        "tasks": 3,
        "problems": [],
        "warnings": [],
    }


def _run_script(name: str, context: dict, args: list[str] | None = None, tmp: Path | None = None) -> object:
    env = dict(os.environ)
    if tmp is not None:
        env["GLEITZEIT_RESULT_FILE"] = str(tmp / "result.json")
    proc = subprocess.run(
        [sys.executable, str(EXAMPLES / "scripts" / name), *(args or [])],
        input=json.dumps(context),
        capture_output=True,
        text=True,
        timeout=30,
        env=env,
        check=True,
    )
    if tmp is not None:
        return json.loads((tmp / "result.json").read_text())
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_example_scripts_follow_the_contract(tmp_path: Path) -> None:
    numbers = _run_script("make_numbers.py", {"count": 4, "seed": 1})
    assert isinstance(numbers, dict) and numbers["count"] == 4
    readings = _run_script("readings.py", {}, ["--count=5", "--seed", "3"])
    assert isinstance(readings, dict) and readings["count"] == 5
    stats = _run_script("describe.py", {"values": readings["values"]})
    assert isinstance(stats, dict) and stats["n"] == 5
    high = _run_script("above_mean.py", {"values": [1, 5, 9], "mean": 5}, tmp=tmp_path)
    assert high == {"values": [9], "count": 1}
    text = _run_script("text_stats.py", {"text": "One two. Three!"})
    assert isinstance(text, dict) and (text["words"], text["sentences"]) == (3, 2)
    parts = _run_script("split_text.py", {"text": "a\n\nb"})
    assert isinstance(parts, dict) and parts["count"] == 2
    report = _run_script("combine.py", {"parts": {"x": "1", "y": [2]}})
    assert isinstance(report, dict) and report["sections"] == ["x", "y"]
    rep = _run_script("report.py", {"title": "T", "stats": {"n": 1}})
    assert isinstance(rep, dict) and rep["lines"] == 4
