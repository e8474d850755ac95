"""The broken-workflow corpus: each file holds one mistake; we report exactly it, at its line."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from gleitzeit.cli import app
from gleitzeit.dsl import validate_workflow

BROKEN = Path(__file__).resolve().parents[1] / "data" / "broken"

# file -> (problem code, line, fragment of the message, task or None)
EXPECTED: dict[str, tuple[str, int, str, str | None]] = {
    "bad_backoff.yaml": ("invalid-value", 7, "retry.backoff", "a"),
    "bad_input_type.yaml": ("invalid-value", 4, "unknown input type 'integr'", None),
    "bad_on_error.yaml": ("invalid-value", 5, "'on_error' must be fail or continue", "a"),
    "bad_priority.yaml": ("invalid-value", 5, "invalid priority 'highest'", "a"),
    "bad_retry_key.yaml": ("unknown-key", 6, "unknown retry key 'max_attempt'", "a"),
    "bad_task_id.yaml": ("bad-id", 3, "task id 'step.1' cannot be used in references", "step.1"),
    "bad_when_syntax.yaml": ("condition-syntax", 12, "syntax error", "b"),
    "batch_missing_directory.yaml": ("missing-key", 3, "'batch' needs a 'directory'", None),
    "batch_template_embed.yaml": ("invalid-value", 7, "a batch template cannot use llm/embed", "template"),
    "both_params_and_parameters.yaml": ("both-params", 7, "both 'params' and 'parameters'", "a"),
    "dependencies_wrong_type.yaml": ("wrong-type", 12, "'dependencies' must be a list", "b"),
    "dependency_cycle.yaml": ("cycle", 5, "dependency cycle: a -> c -> b -> a", "a"),
    "duplicate_task_id.yaml": ("duplicate-id", 10, "task id 'a' is used twice (first at line 3)", "a"),
    "duplicate_task_name.yaml": ("duplicate-id", 6, "task name 'Summarize' is used twice", "Summarize"),
    "duplicate_yaml_key.yaml": ("duplicate-key", 8, "key 'model' appears twice", "a"),
    "embed_two_inputs.yaml": ("conflicting-parameters", 8, "give only one of input, text, prompt", "e"),
    "env_not_strings.yaml": ("parameter-type", 8, "environment variable 'THREADS' must be a string", "p"),
    "file_not_found.yaml": ("file-not-found", 6, "file 'scripts/missing.py' does not exist", "p"),
    "input_default_wrong_type.yaml": (
        "input-type",
        5,
        "the default of input 'count' is not of type integer",
        None,
    ),
    "llm_field_below_text.yaml": (
        "unknown-field",
        16,
        "'response' of a llm/chat result is a single value",
        "b",
    ),
    "max_parallel_zero.yaml": ("invalid-value", 2, "'max_parallel' must be a whole number", None),
    "message_content_not_text.yaml": ("parameter-type", 9, "content must be a string", "a"),
    "message_without_role.yaml": ("missing-parameter", 8, "the message has no 'role'", "a"),
    "missing_messages.yaml": ("missing-parameter", 5, "missing parameter 'messages'", "a"),
    "missing_method.yaml": ("missing-method", 3, "the task has no 'method'", "a"),
    "missing_model.yaml": ("missing-parameter", 5, "missing parameter 'model'", "a"),
    "negative_timeout.yaml": ("invalid-value", 5, "'timeout' must be a number of seconds above 0", "a"),
    "no_tasks.yaml": ("no-tasks", 3, "the workflow has no tasks", None),
    "outputs_unknown_task.yaml": ("unknown-reference", 11, "${b.response} refers to unknown task 'b'", None),
    "protocol_mismatch.yaml": (
        "protocol-mismatch",
        4,
        "protocol 'llm/v1' does not match method 'python/execute'",
        "a",
    ),
    "python_bad_executor.yaml": ("parameter-type", 7, "'executor' must be one of auto, docker, local", "p"),
    "python_file_and_code.yaml": ("conflicting-parameters", 6, "give only one of file, file_path, code", "p"),
    "reference_cycle.yaml": ("cycle", 7, "dependency cycle: ask -> check -> ask", "ask"),
    "reference_syntax.yaml": ("reference-syntax", 16, "'${' without a closing '}'", "b"),
    "self_dependency.yaml": ("cycle", 5, "task 'a' depends on itself", "a"),
    "task_without_id_or_name.yaml": ("missing-id", 3, "task 1 has neither 'id' nor 'name'", None),
    "top_level_not_mapping.yaml": ("wrong-type", 1, "a workflow must be a mapping, not list", None),
    "unknown_dependency.yaml": ("unknown-dependency", 12, "depends on unknown task 'parse'", "b"),
    "unknown_input.yaml": (
        "unknown-input",
        11,
        "${inputs.topic} refers to an input that is not declared",
        "a",
    ),
    "unknown_method.yaml": ("unknown-method", 4, "unknown method 'llm/chatt'", "a"),
    "unknown_parameter.yaml": ("unknown-parameter", 7, "unknown parameter 'temprature' for llm/chat", "a"),
    "unknown_protocol.yaml": ("unknown-protocol", 4, "unknown protocol 'ftp/v1'", "a"),
    "unknown_reference_task.yaml": ("unknown-reference", 16, "refers to unknown task 'summarise'", "b"),
    "unknown_result_field.yaml": ("unknown-field", 16, "llm/chat results have no field 'respons'", "b"),
    "unknown_task_key.yaml": ("unknown-key", 12, "unknown task key 'dependecies'", "b"),
    "unquoted_reference_in_list.yaml": ("yaml-syntax", 10, "but got '{'", None),
    "unknown_top_key.yaml": ("unknown-key", 2, "unknown top-level key 'maxparallel'", None),
    "vision_without_image.yaml": ("missing-parameter", 5, "llm/vision needs an image", "look"),
    "when_calls_function.yaml": ("condition-syntax", 12, "function calls are not allowed", "b"),
    "wrong_parameter_type.yaml": ("parameter-type", 7, "'max_tokens' must be an integer, not 'many'", "a"),
    "yaml_syntax_error.yaml": ("yaml-syntax", 7, "expected ',' or ']'", None),
}

# Hints that must say what to do, for the mistakes people make most.
HINTS = {
    "unknown_top_key.yaml": "did you mean 'max_parallel'?",
    "unknown_task_key.yaml": "did you mean 'dependencies'?",
    "unknown_parameter.yaml": "did you mean 'temperature'?",
    "unknown_method.yaml": "did you mean 'llm/chat'?",
    "unknown_reference_task.yaml": "did you mean 'summarize'?",
    "unknown_result_field.yaml": "did you mean 'response'?",
    "unknown_input.yaml": "add an 'inputs:' entry named 'topic'",
    "duplicate_task_id.yaml": "remove one of the two tasks named 'a' or rename it",
    "bad_retry_key.yaml": "did you mean 'max_attempts'?",
    "unquoted_reference_in_list.yaml": "quote values holding ${...}",
}


def test_corpus_is_complete() -> None:
    files = sorted(p.name for p in BROKEN.glob("*.yaml"))
    assert len(files) >= 30
    assert files == sorted(EXPECTED), "every broken file needs an expectation (and every expectation a file)"


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_broken_file_reports_its_one_problem(name: str) -> None:
    code, line, fragment, task = EXPECTED[name]
    problems = validate_workflow(BROKEN / name)
    assert len(problems) == 1, "\n".join(map(str, problems))
    (p,) = problems
    assert p.code == code
    assert p.line == line
    assert p.column is not None and p.column >= 1
    assert fragment in p.message
    assert p.task == task
    assert p.file is not None and p.file.endswith(name)
    assert p.hint, "every problem says what to do"
    if name in HINTS:
        assert HINTS[name] in p.hint


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_cli_validate_exits_1_naming_the_line(name: str) -> None:
    path = BROKEN / name
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1, result.output
    assert f"{path}:{EXPECTED[name][1]}:" in result.output
    assert "Traceback" not in result.output
