"""The script contract's result rules, the output caps and parameter validation (no process runs)."""

from __future__ import annotations

from typing import Any

import pytest

from gleitzeit.config import Settings
from gleitzeit.executors import InvalidScriptParameters, ScriptBadOutput, ScriptOOM, ScriptRequest, ScriptRun
from gleitzeit.executors.base import CappedStream
from gleitzeit.executors.output import interpret, parse_stdout

SETTINGS = Settings()


def stream(text: str, head: int = 1000, tail: int = 1000) -> CappedStream:
    s = CappedStream(head, tail)
    s.feed(text.encode())
    return s


def run(stdout: str = "", stderr: str = "", exit_code: int = 0, **kw: Any) -> ScriptRun:
    return ScriptRun(
        executor=kw.pop("executor", "local"),
        exit_code=exit_code,
        stdout=stream(stdout),
        stderr=stream(stderr),
        **kw,
    )


def request(**parameters: Any) -> ScriptRequest:
    parameters.setdefault("code", "pass")
    return ScriptRequest.from_parameters(parameters, settings=SETTINGS, task_id="t")


@pytest.mark.parametrize(
    ("stdout", "result", "output"),
    [
        ('{"a": 1}\n', {"a": 1}, ""),
        ('{\n  "a": [1,\n 2]\n}\n', {"a": [1, 2]}, ""),
        ("step 1\nstep 2\n[1, 2]\n\n", [1, 2], "step 1\nstep 2"),
        ("progress\n42\n", 42, "progress"),
        ("just words\n", "just words", ""),
        ("two\nlines of text\n", "two\nlines of text", ""),
        ("", None, ""),
    ],
)
def test_stdout_rules(stdout: str, result: Any, output: str) -> None:
    assert parse_stdout(stream(stdout)) == (result, output)


def test_stdout_that_looks_like_json_but_is_not_is_refused() -> None:
    with pytest.raises(ValueError, match="looks like JSON"):
        parse_stdout(stream('{"a": 1\nmore'))


def test_a_capped_stream_keeps_head_and_tail_and_counts_the_rest() -> None:
    s = CappedStream(4, 4)
    for chunk in (b"abcdef", b"ghij", b"klmnop"):
        s.feed(chunk)
    assert s.total == 16 and s.truncated and s.dropped == 8
    assert s.text() == "abcd" + "\n[... 8 bytes truncated by gleitzeit ...]\n" + "mnop"


def test_a_truncated_stdout_uses_its_last_complete_line() -> None:
    s = stream("noise\n" * 1000 + '{"ok": true}\n', head=50, tail=50)
    result, output = parse_stdout(s)
    assert result == {"ok": True}
    assert "truncated by gleitzeit" in output


def test_a_truncated_stdout_whose_last_line_was_cut_is_an_error() -> None:
    s = stream("x" * 5000, head=50, tail=50)
    with pytest.raises(ValueError, match="too large"):
        parse_stdout(s)


def test_a_result_over_the_limit_fails_clearly() -> None:
    small_limit = request().model_copy(update={"max_result_bytes": 1000})
    big = '"' + "y" * 1500 + '"'
    with pytest.raises(ScriptBadOutput, match="over the"):
        interpret(run(stdout=big), small_limit, None)
    with pytest.raises(ScriptBadOutput, match="result file is larger than"):
        interpret(run(), small_limit, big.encode())


def test_output_is_cut_to_fit_the_payload_budget() -> None:
    req = request().model_copy(update={"max_result_bytes": 600})
    result = interpret(run(stdout="a\n" * 400 + "1\n"), req, None)
    assert result.result == 1
    assert len(result.output.encode()) < 600 and "truncated" in result.output


def test_exit_137_in_a_container_is_out_of_memory() -> None:
    with pytest.raises(ScriptOOM, match="ran out of memory"):
        interpret(run(exit_code=137, executor="docker"), request(memory="64m"), None)


@pytest.mark.parametrize(
    ("parameters", "key"),
    [
        ({}, "parameters.file"),
        ({"code": "x", "file": "y.py"}, "parameters.file"),
        ({"code": 3}, "parameters.code"),
        ({"code": "x", "context": [1]}, "parameters.context"),
        ({"code": "x", "args": [{"nested": 1}]}, "parameters.args[0]"),
        ({"code": "x", "args": 5}, "parameters.args"),
        ({"code": "x", "env": {"BAD-NAME": "1"}}, "parameters.env"),
        ({"code": "x", "timeout": 0}, "parameters.timeout"),
        ({"code": "x", "timeout": "soon"}, "parameters.timeout"),
        ({"code": "x", "executor": "podman"}, "parameters.executor"),
        ({"code": "x", "network": "yes"}, "parameters.network"),
        ({"code": "x", "memory": "lots"}, "parameters.memory"),
        ({"code": "x", "memory": "1m"}, "parameters.memory"),
        ({"code": "x", "cpus": -1}, "parameters.cpus"),
    ],
)
def test_invalid_parameters_name_the_key(parameters: dict[str, Any], key: str) -> None:
    with pytest.raises(InvalidScriptParameters) as caught:
        ScriptRequest.from_parameters(parameters, settings=SETTINGS, task_id="t")
    assert caught.value.kind == "InvalidParameters"
    assert caught.value.problems[0].key == key
    assert caught.value.problems[0].task == "t"


def test_defaults_come_from_the_settings_and_the_attempt_timeout_bounds_the_script() -> None:
    settings = Settings(executor="docker", script_timeout=45, sandbox_image="img:1")
    req = ScriptRequest.from_parameters({"code": "x"}, settings=settings, attempt_timeout=10)
    assert (req.executor, req.image, req.network, req.memory) == (
        "docker",
        "img:1",
        False,
        str(256 * 1024**2),
    )
    assert req.timeout == 8.0
    req = ScriptRequest.from_parameters({"code": "x"}, settings=settings)
    assert req.timeout == 45.0


@pytest.mark.parametrize(
    ("stdout", "module_result", "result"),
    [
        ("Generated 5 numbers\n", b'{"count": 5}', {"count": 5}),  # the original's convention
        ("", b"[1, 2]", [1, 2]),
        ('progress\n{"printed": true}\n', b'{"module": 1}', {"printed": True}),  # JSON last line wins
        ("plain words\n", None, "plain words"),  # no module result: as before
    ],
)
def test_a_module_level_result_is_the_result_when_stdout_has_none(
    stdout: str, module_result: bytes | None, result: Any
) -> None:
    assert interpret(run(stdout), request(), None, module_result).result == result


def test_the_result_file_wins_over_a_module_level_result() -> None:
    assert interpret(run("text\n"), request(), b'{"file": 1}', b'{"module": 1}').result == {"file": 1}
