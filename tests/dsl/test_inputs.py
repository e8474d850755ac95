"""Workflow inputs: declaration forms, defaults, coercion of CLI strings, all problems at once."""

from __future__ import annotations

import pytest

from gleitzeit.core.errors import ValidationError
from gleitzeit.dsl import bind_inputs, load_workflow_text

WORKFLOW = """\
name: inputs
inputs:
  topic:
    type: string
    description: what to write about
  count: 3
  ratio: 0.5
  verbose: false
  tags:
    type: list
    default: [a]
  options:
    type: object
    default: {depth: 1}
  anything:
  optional:
    type: string
    required: false
tasks:
  - id: t
    method: python/execute
    parameters:
      code: print(1)
      context:
        all: ["${inputs.topic}", "${inputs.count}", "${inputs.ratio}", "${inputs.verbose}", "${inputs.tags}",
              "${inputs.options.depth}", "${inputs.anything}", "${inputs.optional}"]
"""


@pytest.fixture(scope="module")
def spec():  # type: ignore[no-untyped-def]
    return load_workflow_text(WORKFLOW, "inputs.yaml")


def test_declarations(spec) -> None:  # type: ignore[no-untyped-def]
    i = spec.inputs
    assert (i["topic"].type, i["topic"].required, i["topic"].line) == ("string", True, 3)
    assert (i["count"].type, i["count"].default, i["count"].required) == ("integer", 3, False)
    assert i["ratio"].type == "number" and i["verbose"].type == "boolean"
    assert i["tags"].default == ["a"] and i["options"].type == "object"
    assert (i["anything"].type, i["anything"].required) == ("any", True)
    assert (i["optional"].required, i["optional"].default) == (False, None)


def test_bind_coerces_cli_strings(spec) -> None:  # type: ignore[no-untyped-def]
    bound = bind_inputs(
        spec,
        {
            "topic": "AI",
            "count": "7",
            "ratio": "2",
            "verbose": "TRUE",
            "tags": '["x", "y"]',
            "options": '{"depth": 3}',
            "anything": "raw text",
        },
    )
    assert bound == {
        "topic": "AI",
        "count": 7,
        "ratio": 2,
        "verbose": True,
        "tags": ["x", "y"],
        "options": {"depth": 3},
        "anything": "raw text",
        "optional": None,
    }


def test_bind_uses_defaults_and_accepts_typed_values(spec) -> None:  # type: ignore[no-untyped-def]
    bound = bind_inputs(spec, {"topic": "AI", "anything": {"k": 1}, "count": 4, "ratio": 1.25})
    assert bound["count"] == 4 and bound["ratio"] == 1.25 and bound["tags"] == ["a"]
    assert bound["options"] == {"depth": 1}
    bound["tags"].append("mutated")
    assert spec.inputs["tags"].default == ["a"]  # binding hands out copies of the defaults


def test_bind_reports_every_problem_at_once(spec) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as info:
        bind_inputs(spec, {"count": "three", "verbose": "maybe", "tags": "a,b", "topik": "AI"})
    by_code: dict[str, list[str]] = {}
    for p in info.value.problems:
        by_code.setdefault(p.code, []).append(p.message)
    assert len(by_code["input-type"]) == 3
    assert any("'topic'" in m for m in by_code["missing-input"])
    assert any("'anything'" in m for m in by_code["missing-input"])
    unknown = [p for p in info.value.problems if p.code == "unknown-input"]
    assert unknown[0].hint == "did you mean 'topic'?"
    missing = [p for p in info.value.problems if p.code == "missing-input" and "'topic'" in p.message][0]
    assert missing.line == 3 and missing.file is not None and missing.file.endswith("inputs.yaml")
    assert "-i topic=" in (missing.hint or "")


def test_unknown_input_without_declarations_says_how_to_declare() -> None:
    spec = load_workflow_text(
        "name: x\ntasks:\n  - id: t\n    method: python/execute\n    parameters: {code: x}\n"
    )
    with pytest.raises(ValidationError) as info:
        bind_inputs(spec, {"topic": "AI"})
    assert "add an 'inputs:' entry named 'topic'" in (info.value.problems[0].hint or "")
