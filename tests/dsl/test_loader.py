"""Loading: the original Gleitzeit's files unchanged, canonical form, dict/text/file sources."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import gleitzeit.dsl as dsl
from gleitzeit.core.errors import ValidationError
from gleitzeit.dsl import PRIORITY_RANKS, load_workflow, load_workflow_text, validate_workflow

# Written the way the original Gleitzeit's users wrote workflows: params, protocol, numeric
# priorities, a retry block with backoff_strategy, name-only tasks, references by name.
ORIGINAL = """\
name: "Research Pipeline"
description: "written for the original Gleitzeit"
version: 1.0
timeout: 180
wait_for_completion: true
providers: [ollama]

tasks:
  - name: "Generate Topics"
    protocol: "llm/v1"
    method: "llm/chat"
    priority: 3
    retry:
      max_attempts: 4
      backoff_strategy: linear
      base_delay: 2
    params:
      model: "llama3.2"
      messages:
        - role: "user"
          content: "Name three topics."

  - name: "calculate_stats"
    protocol: "python/v1"
    method: "python/execute"
    priority: 1
    dependencies: ["Generate Topics"]
    params:
      code: "print(1)"
      context:
        topics: "${Generate Topics.response}"
      timeout: 30

  - name: "Summarize"
    method: "llm/complete"
    priority: 2
    timeout: 60
    params:
      model: "llama3.2"
      prompt: "Summarize ${calculate_stats.result} after ${Generate Topics.response}"
"""


def test_original_gleitzeit_file_loads_unchanged(tmp_path: Path) -> None:
    path = tmp_path / "original.yaml"
    path.write_text(ORIGINAL)
    spec = load_workflow(path)
    assert spec.name == "Research Pipeline" and spec.version == "1.0" and spec.timeout == 180
    assert spec.metadata == {"providers": ["ollama"], "wait_for_completion": True}
    gen, calc, summ = spec.tasks
    assert (gen.id, gen.name, gen.line) == ("generate-topics", "Generate Topics", 9)
    assert gen.priority == PRIORITY_RANKS["low"] and calc.priority == PRIORITY_RANKS["high"]
    assert summ.priority == PRIORITY_RANKS["normal"]
    assert gen.retry is not None and (gen.retry.max_attempts, gen.retry.backoff, gen.retry.base_delay) == (
        4,
        "linear",
        2.0,
    )
    assert calc.parameters["context"]["topics"] == "${generate-topics.response}"
    assert calc.dependencies == ["generate-topics"]
    assert summ.method == "llm/generate" and summ.timeout == 60
    assert (
        summ.parameters["prompt"] == "Summarize ${calculate_stats.result} after ${generate-topics.response}"
    )
    assert summ.dependencies == ["calculate_stats", "generate-topics"]
    assert spec.source_file == str(path.resolve()) and spec.base_dir == str(tmp_path.resolve())


def test_canonical_form() -> None:
    spec = load_workflow_text(
        """
name: canon
tasks:
  - id: a
    method: chat
    protocol: llm/v1
    priority: URGENT
    parameters: {model: m, prompt: "hi ${inputs.x}"}
  - id: b
    method: python
    dependencies: a
    when: "${a.response} == 'yes'"
    on_error: continue
    parameters:
      file_path: /opt/scripts/step.py   # absolute paths are checked by the worker, not here
      args: ["${c.result}", "${a}"]
  - id: c
    method: llm/embeddings
    parameters: {model: all-minilm, text: "${a.result}"}
inputs:
  x: 1
outputs:
  out: "${b.result.k} and ${inputs.x}"
"""
    )
    a, b, c = spec.tasks
    assert a.method == "llm/chat" and a.priority == PRIORITY_RANKS["urgent"]
    assert a.parameters == {"model": "m", "messages": [{"role": "user", "content": "hi ${inputs.x}"}]}
    assert b.method == "python/execute" and "file" in b.parameters and "file_path" not in b.parameters
    assert b.dependencies == ["a", "c"]  # explicit first, then implied, first mention order, no duplicates
    assert b.on_error == "continue" and b.when == "${a.response} == 'yes'"
    assert c.method == "llm/embed" and c.dependencies == ["a"]
    assert spec.outputs == {"out": "${b.result.k} and ${inputs.x}"}


def test_every_problem_is_reported_at_once_sorted_by_line() -> None:
    problems = validate_workflow(
        """name: many
tasks:
  - id: a
    method: llm/chat
    parameters: {model: m, prompt: "${zz.response}"}
  - id: b
    method: nope
  - id: a
    method: python/execute
    parameters: {code: x, colour: red}
extra: 1
"""
    )
    assert [(p.line, p.code) for p in problems] == [
        (5, "unknown-reference"),
        (7, "unknown-method"),
        (8, "duplicate-id"),
        (10, "unknown-parameter"),
        (11, "unknown-key"),
    ]
    assert all(p.file is None for p in problems)


def test_dict_input_has_task_and_key_but_no_lines() -> None:
    source = {
        "name": "d",
        "tasks": [{"id": "a", "method": "llm/chat", "parameters": {"model": 1, "prompt": "x"}}],
    }
    (p,) = validate_workflow(source)
    assert (p.line, p.column, p.task, p.key, p.code) == (
        None,
        None,
        "a",
        "parameters.model",
        "parameter-type",
    )
    # the caller's dict is never changed
    good = {
        "name": "d",
        "tasks": [{"name": "A b", "method": "llm/chat", "params": {"model": "m", "prompt": "x"}}],
    }
    spec = load_workflow(good)
    assert spec.tasks[0].id == "a-b" and "params" in good["tasks"][0] and spec.source_file is None
    assert spec.base_dir == os.getcwd()


def test_derived_ids_are_unique_and_names_may_be_referenced() -> None:
    spec = load_workflow(
        {
            "name": "ids",
            "tasks": [
                {"id": "a-b", "method": "python/execute", "parameters": {"code": "x"}},
                {"name": "A  B", "method": "python/execute", "parameters": {"code": "x"}},
                {"name": "v1.2 draft", "method": "python/execute", "parameters": {"code": "x"}},
                {
                    "name": "!!!",
                    "method": "python/execute",
                    "parameters": {
                        "code": "x",
                        "context": {"v": "${A  B.result}", "w": "${v1.2 draft.result.k}"},
                    },
                },
            ],
        }
    )
    assert [t.id for t in spec.tasks] == ["a-b", "a-b-2", "v1-2-draft", "task-4"]
    assert spec.tasks[3].parameters["context"] == {"v": "${a-b-2.result}", "w": "${v1-2-draft.result.k}"}
    assert spec.tasks[3].dependencies == ["a-b-2", "v1-2-draft"]


def test_sources(tmp_path: Path) -> None:
    (tmp_path / "s.py").write_text("print(1)")
    text = "name: src\ntasks:\n  - id: a\n    method: python/execute\n    parameters: {file: s.py}\n"
    (tmp_path / "wf.yml").write_text(text)
    assert load_workflow(str(tmp_path / "wf.yml")).tasks[0].id == "a"
    assert load_workflow(tmp_path / "wf.yml").base_dir == str(tmp_path)
    assert load_workflow(text, base_dir=str(tmp_path)).source_file is None
    with pytest.raises(ValidationError) as info:
        load_workflow(text)  # s.py is not in the current directory
    assert info.value.problems[0].code == "file-not-found"
    with pytest.raises(ValidationError) as info:
        load_workflow(str(tmp_path / "missing.yaml"))
    assert info.value.problems[0].code == "file-not-found"
    assert load_workflow_text(text, str(tmp_path / "wf.yml")).base_dir == str(tmp_path)
    (p,) = validate_workflow("")
    assert p.code == "empty"


def test_validation_error_message_lists_all_problems() -> None:
    with pytest.raises(ValidationError) as info:
        load_workflow("name: x\ntasks:\n  - id: a\n  - id: b\n")
    assert "2 problems" in str(info.value) and "<workflow>:3:5" in str(info.value)


def test_public_api_is_pinned() -> None:
    assert set(dsl.__all__) == {
        "METHODS",
        "PRIORITY_RANKS",
        "BatchSpec",
        "InputSpec",
        "MethodInfo",
        "Reference",
        "RetrySpec",
        "TaskSpec",
        "WorkflowSpec",
        "bind_inputs",
        "canonical_method",
        "evaluate",
        "expand_batch",
        "find_references",
        "load_workflow",
        "load_workflow_text",
        "method_info",
        "primary_fields_for",
        "resolve",
        "validate_workflow",
    }
    for name in dsl.__all__:
        assert getattr(dsl, name) is not None


def _refs_workflow(text: str) -> dict[str, object]:
    return {
        "name": "refs",
        "inputs": {"topic": "AI", "cfg": {"type": "object", "default": {"k": 1}}},
        "tasks": [
            {
                "id": "llm",
                "method": "llm/chat",
                "parameters": {"model": "m", "prompt": "x", "format": "json"},
            },
            {"id": "py", "method": "python/execute", "parameters": {"code": "x"}},
            {"id": "emb", "method": "llm/embed", "parameters": {"model": "m", "input": "x"}},
            {"id": "use", "method": "python/execute", "parameters": {"code": "x", "context": {"v": text}}},
        ],
    }


@pytest.mark.parametrize(
    "text",
    [
        "${llm}",
        "${llm.response}",
        "${llm.result}",
        "${llm.parsed.items[0].name}",
        "${llm.tokens_used}",
        "${py}",
        "${py.result.anything[3].deep}",
        "${py.exit_code}",
        "${py.output}",
        "${emb.embeddings[0][1]}",
        "${emb[0]}",
        "${emb.result[0]}",
        "${inputs.cfg.k}",
        "$${not.a.reference}",
        "${use_me} is escaped: $${x}".replace("${use_me}", "${py}"),
    ],
)
def test_accepted_references(text: str) -> None:
    assert validate_workflow(_refs_workflow(text)) == []


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("${llm.respone}", "unknown-field"),
        ("${llm.result.x}", "unknown-field"),
        ("${llm[0]}", "unknown-field"),
        ("${py.stdout}", "unknown-field"),
        ("${emb.response}", "unknown-field"),
        ("${inputs.topic.x}", "unknown-field"),
        ("${inputs.nope}", "unknown-input"),
        ("${inputs}", "unknown-input"),
        ("${nope}", "unknown-reference"),
        ("${use.result}", "cycle"),
        ("${py.result", "reference-syntax"),
    ],
)
def test_rejected_references(text: str, code: str) -> None:
    (p,) = validate_workflow(_refs_workflow(text))
    assert p.code == code and p.task == "use" and p.key == "parameters.context.v"


def test_small_conveniences() -> None:
    spec = load_workflow(
        {
            "name": "conv",
            "tasks": [
                {
                    "id": "a",
                    "method": "python/execute",
                    "retry": 5,
                    "when": True,
                    "parameters": {"code": "x"},
                },
                {"id": "b", "method": "python/execute", "priority": "2", "parameters": {"code": "$${keep}"}},
            ],
        }
    )
    a, b = spec.tasks
    assert a.retry is not None and a.retry.max_attempts == 5 and a.when == "true"
    assert b.priority == PRIORITY_RANKS["normal"] and b.parameters["code"] == "$${keep}"
    (p,) = validate_workflow(
        {
            "name": "x",
            "tasks": [
                {"id": "a", "method": "llm/chat", "parameters": {"model": "m", "prompt": "p", "messages": []}}
            ],
        }
    )
    assert p.code == "conflicting-parameters"
