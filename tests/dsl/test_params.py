"""Method parameters: the one model per method decides what validates and what runs.

A size or a duration ``gleitzeit validate`` accepts is one the executor and the activities accept,
and one it refuses is refused with a located error.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError

from gleitzeit.activities.llm import parse_params
from gleitzeit.config import Settings
from gleitzeit.core.units import DURATION_FORMS, SIZE_FORMS
from gleitzeit.dsl import load_workflow, validate_workflow
from gleitzeit.dsl.params import PARAMS, ChatParams, EmbedParams, accepted_keys, check_parameters
from gleitzeit.executors import InvalidScriptParameters, ScriptRequest

MI = 1024**2


def _python_task(extra: str) -> str:
    return f"name: p\ntasks:\n  - id: p\n    method: python/execute\n    parameters:\n      code: print(1)\n{extra}"


@pytest.mark.parametrize(("memory", "size"), [("256Mi", 256 * MI), ("1t", 1024**4), ("256mib", 256 * MI)])
def test_a_size_that_validates_also_runs(tmp_path: Path, memory: str, size: int) -> None:
    wf = tmp_path / "wf.yaml"
    wf.write_text(_python_task(f"      memory: {memory}\n"))
    assert validate_workflow(wf) == []
    spec = load_workflow(wf)
    request = ScriptRequest.from_parameters(spec.tasks[0].parameters, settings=Settings(), task_id="p")
    assert request.memory == str(size)


@pytest.mark.parametrize("memory", ["lots", "256x", "1k"])
def test_an_unreadable_or_tiny_size_is_refused_at_its_line(tmp_path: Path, memory: str) -> None:
    wf = tmp_path / "wf.yaml"
    wf.write_text(_python_task(f"      memory: {memory}\n"))
    (p,) = validate_workflow(wf)
    assert (p.code, p.line, p.task, p.key) == ("parameter-type", 7, "p", "parameters.memory")
    assert p.column is not None and p.column >= 1
    assert SIZE_FORMS in p.message or "6m minimum" in p.message
    with pytest.raises(InvalidScriptParameters) as info:
        ScriptRequest.from_parameters({"code": "x", "memory": memory}, settings=Settings())
    assert info.value.problems[0].key == "parameters.memory"


def test_durations_load_as_seconds_everywhere_one_goes() -> None:
    spec = load_workflow(
        """name: d
timeout: PT1H
tasks:
  - id: a
    method: python/execute
    timeout: 1h30m
    retry: {max_attempts: 3, base_delay: 1s, max_delay: 2m}
    parameters: {code: print(1), timeout: 5m}
  - id: b
    method: llm/chat
    timeout: P1DT2H
    parameters: {model: m, prompt: hi, timeout: 250ms}
"""
    )
    a, b = spec.tasks
    assert spec.timeout == 3600.0
    assert a.timeout == 5400.0 and b.timeout == 93600.0
    assert a.retry is not None and (a.retry.base_delay, a.retry.max_delay) == (1.0, 120.0)
    # Parameter durations reach the activities as seconds too (the workflow sizes its timeouts from them).
    assert a.parameters["timeout"] == 300.0 and b.parameters["timeout"] == 0.25
    request = ScriptRequest.from_parameters(a.parameters, settings=Settings())
    assert request.timeout == 300.0
    assert parse_params(ChatParams, b.parameters).timeout == 0.25


@pytest.mark.parametrize(
    ("snippet", "line", "key"),
    [
        ("    timeout: 5 parsecs\n", 5, "timeout"),
        ("    timeout: -3s\n", 5, "timeout"),
        ("    timeout: 0\n", 5, "timeout"),
        ("    timeout: .inf\n", 5, "timeout"),
        ("    retry: {base_delay: soon}\n", 5, "retry.base_delay"),
        ("    parameters: {code: x, timeout: 5 parsecs}\n", 5, "parameters.timeout"),
    ],
)
def test_bad_durations_are_located_and_say_the_forms(snippet: str, line: int, key: str) -> None:
    text = "name: d\ntasks:\n  - id: a\n    method: python/execute\n" + snippet
    if "parameters" not in snippet:
        text += "    parameters: {code: x}\n"
    (p,) = validate_workflow(text)
    assert (p.line, p.key) == (line, key)
    assert p.code in ("invalid-value", "parameter-type")
    assert DURATION_FORMS in p.message or DURATION_FORMS in (p.hint or "")


def test_a_workflow_timeout_accepts_a_duration_and_refuses_nonsense() -> None:
    (p,) = validate_workflow(
        "name: d\ntimeout: forever\ntasks:\n  - id: a\n    method: python/execute\n"
        "    parameters: {code: x}\n"
    )
    assert (p.code, p.line, p.key) == ("invalid-value", 2, "timeout")


def test_references_skip_load_time_checks_but_not_run_time_ones() -> None:
    params: dict[str, Any] = {
        "model": "${inputs.m}",
        "input": ["a", "${t.response}"],
        "timeout": "${inputs.t}",
    }
    assert check_parameters("llm/embed", params) == []
    with pytest.raises(ApplicationError) as info:
        parse_params(EmbedParams, {"model": "m", "input": ["a", 3]})
    assert info.value.type == "InvalidParameters" and info.value.non_retryable
    assert "'input'" in str(info.value)


def test_run_time_errors_name_the_key() -> None:
    with pytest.raises(ApplicationError) as info:
        parse_params(ChatParams, {"model": "m", "prompt": "hi", "temperature": "hot"})
    assert info.value.type == "InvalidParameters" and "parameter 'temperature'" in str(info.value)
    with pytest.raises(ApplicationError) as info:
        parse_params(ChatParams, {"prompt": "hi"})
    assert "missing parameter 'model'" in str(info.value)


def test_conveniences_fold_into_what_ollama_gets() -> None:
    params = ChatParams.model_validate(
        {"model": "m", "prompt": "hi", "system": "be brief", "max_tokens": 5, "temperature": 0}
    )
    assert params.chat_messages() == [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "hi"},
    ]
    assert params.ollama_options() == {"temperature": 0, "num_predict": 5}
    # A reference that resolved to structured data reaches the model as JSON text.
    resolved = ChatParams.model_validate({"model": "m", "messages": [{"role": "user", "content": {"a": 1}}]})
    assert resolved.chat_messages() == [{"role": "user", "content": '{"a": 1}'}]


def test_every_method_has_one_model() -> None:
    assert set(PARAMS) == {
        "llm/chat",
        "llm/generate",
        "llm/vision",
        "llm/embed",
        "python/execute",
        "mcp/tools.list",
        "mcp/servers.list",
        "time/sleep",
        "time/until",
        "human/approval",
    }
    assert "num_predict" in accepted_keys("llm/chat") and "max_tokens" in accepted_keys("llm/generate")
    assert "file_path" in accepted_keys("python/execute") and accepted_keys("nope") == ()


def test_outputs_dir_and_mounts_in_every_form_validate_and_resolve(tmp_path: Path) -> None:
    (tmp_path / "inputs").mkdir()
    wf = tmp_path / "wf.yaml"
    wf.write_text(
        _python_task(
            "      outputs_dir: results\n"
            "      mounts: [inputs, 'inputs:ro', 'shared:rw', {path: more, mode: rw}]\n"
        )
    )
    assert validate_workflow(wf) == []
    params = load_workflow(wf).tasks[0].parameters
    assert params["outputs_dir"] == "results"  # as written: relative to the spec's base_dir
    request = ScriptRequest.from_parameters(params, settings=Settings(), task_id="p", base_dir=str(tmp_path))
    root = tmp_path.resolve()
    assert request.outputs_dir == root / "results"
    assert [(m.path, m.mode) for m in request.mounts] == [
        (root / "results", "rw"),
        (root / "inputs", "ro"),
        (root / "shared", "rw"),
        (root / "more", "rw"),
    ]


def test_paths_outside_the_file_roots_are_refused_at_their_line(tmp_path: Path) -> None:
    wf = tmp_path / "wf.yaml"
    elsewhere = tmp_path.parent / f"{tmp_path.name}-elsewhere"
    wf.write_text(
        _python_task(f"      outputs_dir: {elsewhere}\n      mounts: ['../{elsewhere.name}:rw', missing]\n")
    )
    problems = validate_workflow(wf)
    assert [(p.code, p.line, p.key) for p in problems] == [
        ("outside-file-roots", 7, "parameters.outputs_dir"),
        ("outside-file-roots", 8, "parameters.mounts[0]"),
        ("file-not-found", 8, "parameters.mounts[1]"),
    ]
    assert problems[0].task == "p" and str(tmp_path) in (problems[0].hint or "")
    assert "GLEITZEIT_FILE_ROOTS" in (problems[0].hint or "")


def test_a_bad_mount_names_its_item() -> None:
    problems = validate_workflow(_python_task("      mounts: ['data:rw', {path: x, mode: wx}]\n"))
    assert [(p.code, p.key) for p in problems] == [("parameter-type", "parameters.mounts[1]")]
    assert "ro|rw" in problems[0].message
