"""Reference resolution: types kept or rendered, escapes, primary fields, errors, purity."""

from __future__ import annotations

import copy

import pytest

from gleitzeit.core.errors import ValidationError
from gleitzeit.dsl.references import (
    Reference,
    find_references,
    format_reference,
    parse_template,
    resolve,
    rewrite_references,
)

RESULTS = {
    "ask": {"response": "Paris", "model": "smollm2:135m", "tokens_used": 3},
    "calc": {
        "result": {"a": {"b": 7}, "items": [10, 20, 30], "ok": True, "none": None},
        "output": "",
        "exit_code": 0,
    },
    "embed": {"embeddings": [[0.1, 0.2]], "model": "all-minilm"},
    "text": {"result": "plain stdout", "output": "plain stdout", "exit_code": 0},
}
INPUTS = {"topic": "AI", "n": 3, "cfg": {"depth": 2, "tags": ["x", "y"]}}
PRIMARY = {"ask": "response", "calc": "result", "embed": "embeddings", "text": "result"}


def r(value: object) -> object:
    return resolve(value, RESULTS, INPUTS, primary_fields=PRIMARY)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("${ask.response}", "Paris"),
        ("${ask}", "Paris"),
        ("${ask.result}", "Paris"),  # no 'result' key: the primary field
        ("${ask.tokens_used}", 3),
        ("${calc.result.a.b}", 7),
        ("${calc.result.items[0]}", 10),
        ("${calc.result.items[-1]}", 30),
        ("${calc.result['a'].b}", 7),
        ("${calc}", RESULTS["calc"]["result"]),
        ("${calc.result}", RESULTS["calc"]["result"]),
        ("${calc.result.ok}", True),
        ("${calc.result.none}", None),
        ("${calc.exit_code}", 0),
        ("${embed}", [[0.1, 0.2]]),
        ("${embed.result[0][1]}", 0.2),
        ("${text}", "plain stdout"),
        ("${inputs.n}", 3),
        ("${inputs.cfg.tags[1]}", "y"),
        ("${ inputs.topic }", "AI"),
    ],
)
def test_whole_string_reference_keeps_its_type(text: str, expected: object) -> None:
    assert r(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Capital: ${ask.response}!", "Capital: Paris!"),
        ("n=${inputs.n}", "n=3"),
        ("ok=${calc.result.ok}, none=${calc.result.none}", "ok=true, none=null"),
        ("items: ${calc.result.items}", "items: [10,20,30]"),
        ("a: ${calc.result.a}", 'a: {"b":7}'),
        ("float ${embed.embeddings[0][0]}", "float 0.1"),
        ("${ask}${ask}", "ParisParis"),
        ("cost $5 and ${inputs.topic}", "cost $5 and AI"),
    ],
)
def test_reference_inside_text_is_rendered(text: str, expected: str) -> None:
    assert r(text) == expected


def test_escape_renders_a_literal_dollar_brace() -> None:
    assert r("$${ask.response}") == "${ask.response}"
    assert r("keep $${x} but use ${inputs.topic}") == "keep ${x} but use AI"
    assert find_references("$${ask.response}") == []


def test_resolve_walks_containers_without_mutating_them() -> None:
    value = {"a": ["${inputs.n}", {"b": "${ask}"}], "c": 1, "d": ("${inputs.topic}",)}
    before = copy.deepcopy(value)
    out = r(value)
    assert out == {"a": [3, {"b": "Paris"}], "c": 1, "d": ("AI",)}
    assert value == before
    results_before = copy.deepcopy(RESULTS)
    out2 = r("${calc.result.items}")
    assert isinstance(out2, list)
    assert RESULTS == results_before


def test_without_primary_fields_the_fallback_agrees() -> None:
    for text in ("${ask}", "${ask.result}", "${calc}", "${embed}"):
        assert resolve(text, RESULTS, INPUTS) == r(text)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("${nope.response}", "task 'nope' has no result"),
        ("${ask.nothing}", "has no field 'nothing'"),
        ("${calc.result.items[9]}", "index [9] is out of range"),
        ("${calc.result.a[0]}", "not a list"),
        ("${ask.response.x}", "not an object"),
        ("${inputs.missing}", "no input named 'missing'"),
        ("${inputs}", "name the input"),
        ("${ask.response", "without a closing"),
        ("${}", "empty reference"),
        ("${ask..response}", "expected a field name"),
        ("${ask.response[x]}", "unexpected"),
    ],
)
def test_errors_are_validation_errors_naming_the_reference(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        r(text)
    assert fragment in str(info.value)


def test_missing_result_names_the_reference() -> None:
    with pytest.raises(ValidationError, match=r"\$\{later\.response\}"):
        r("x ${later.response}")


def test_find_and_parse() -> None:
    refs = find_references({"a": ["${t1.result.items[0]}", "x ${Task Name.response} y"], "b": 3})
    assert [(x.root, x.path) for x in refs] == [("t1", ("result", "items", 0)), ("Task Name", ("response",))]
    assert parse_template("a ${x} b") == ["a ", Reference("x", (), "${x}"), " b"]


def test_rewrite_and_format_round_trip() -> None:
    out = rewrite_references(
        {"p": "$${lit} ${Task Name.result['a.b'][0]} ${inputs.x}"},
        lambda ref: Reference("task-name", ref.path, ref.raw) if ref.root == "Task Name" else ref,
    )
    assert out == {"p": "$${lit} ${task-name.result['a.b'][0]} ${inputs.x}"}
    assert format_reference("t", ("result", "a b", 2, "it's")) == '${t.result.a b[2]["it\'s"]}'
    (again,) = find_references(format_reference("t", ("result", "a.b", 2)))
    assert again.path == ("result", "a.b", 2)


@pytest.mark.parametrize("written", ["${a.content}", "${a.result.content}", "${a.message.content}"])
def test_the_originals_names_for_an_answer_text_mean_its_response(written: str) -> None:
    from gleitzeit.dsl import load_workflow

    chat = {"model": "m", "prompt": "hi"}
    spec = load_workflow(
        {
            "tasks": [
                {"id": "a", "method": "llm/chat", "parameters": chat},
                {
                    "id": "b",
                    "method": "llm/chat",
                    "parameters": {"model": "m", "prompt": f"again: {written}"},
                },
            ]
        }
    )
    assert spec.tasks[1].parameters["messages"][0]["content"] == "again: ${a.response}"
    assert spec.tasks[1].dependencies == ["a"]
