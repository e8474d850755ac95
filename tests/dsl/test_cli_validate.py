"""`gleitzeit validate`: output format, exit codes, --json, -i."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from gleitzeit.cli import app
from gleitzeit.cli.validate import format_problem
from gleitzeit.core.errors import Problem

runner = CliRunner()
GOOD = (
    "name: g\ninputs:\n  topic:\n    type: string\ntasks:\n  - id: a\n    method: python/execute\n"
    "    parameters: {code: print(1), context: {t: '${inputs.topic}'}}\n"
)
BAD = "name: b\ntasks:\n  - id: a\n    method: python/execute\n    parameters: {code: x, timeuot: 3}\n"


def test_format() -> None:
    p = Problem(
        "boom", file="f.yaml", line=3, column=5, task="x", key="parameters.y", hint="fix it", code="c"
    )
    assert format_problem(p) == "f.yaml:3:5: task 'x', key 'parameters.y': boom (hint: fix it)"
    assert format_problem(Problem("boom")) == "<workflow>: boom"
    assert "[bold]" in format_problem(p, markup=True)


def test_mixed_files_exit_1_and_report_each(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.yaml", tmp_path / "bad.yaml"
    good.write_text(GOOD)
    bad.write_text(BAD)
    result = runner.invoke(app, ["validate", str(good), str(bad)])
    assert result.exit_code == 1
    assert f"{good}: ok (1 task)" in result.output
    assert f"{bad}:5:27: task 'a', key 'parameters.timeuot': unknown parameter 'timeuot'" in result.output
    assert "did you mean 'timeout'?" in result.output


def test_json_lists_problem_dicts_per_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(BAD)
    result = runner.invoke(app, ["validate", "--json", str(bad)])
    assert result.exit_code == 1
    (entry,) = json.loads(result.output)
    assert entry["valid"] is False and entry["file"] == str(bad)
    (p,) = entry["problems"]
    assert (p["line"], p["column"], p["code"], p["task"]) == (5, 27, "unknown-parameter", "a")


def test_missing_file_exits_2_without_traceback(tmp_path: Path) -> None:
    result = runner.invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "does not exist" in result.output and "Traceback" not in result.output


def test_inputs_option_checks_binding(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text(GOOD)
    assert runner.invoke(app, ["validate", str(good), "-i", "topic=AI"]).exit_code == 0
    result = runner.invoke(app, ["validate", str(good), "-i", "topc=AI"])
    assert result.exit_code == 1
    assert "unknown input 'topc'" in result.output and "required input 'topic'" in result.output
    assert runner.invoke(app, ["validate", str(good), "-i", "novalue"]).exit_code == 2
