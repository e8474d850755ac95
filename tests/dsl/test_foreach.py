"""``foreach:`` in the loader: the list (inline or one reference), ``max_concurrent``, where ${item}
and ${item_index} may appear, references to a foreach task's result, the size limit."""

from __future__ import annotations

import pytest

from gleitzeit.contracts.spec import MAX_FOREACH_ITEMS
from gleitzeit.dsl import load_workflow_text, validate_workflow
from gleitzeit.dsl.references import resolve

VALID = """name: fe
tasks:
  - id: load
    method: python/execute
    parameters: {code: "print(1)"}
  - id: each
    method: llm/chat
    foreach: ${load.result.items}
    max_concurrent: 2
    when: ${item_index} > 0
    parameters: {model: m, prompt: "Say ${item.name} (${item_index})"}
  - id: inline
    method: python/execute
    foreach: [1, 2, "${load.result.x}"]
    parameters: {code: "print(1)", context: {n: "${item}"}}
  - id: after
    method: llm/chat
    parameters: {model: m, prompt: "${each} ${each.results[0].response} ${inline[1]} ${each.errors}"}
outputs:
  all: ${each}
"""


def test_a_valid_foreach_workflow() -> None:
    spec = load_workflow_text(VALID)
    each, inline, after = spec.task("each"), spec.task("inline"), spec.task("after")
    assert (each.foreach, each.max_concurrent, each.dependencies) == ("${load.result.items}", 2, ["load"])
    assert inline.foreach == [1, 2, "${load.result.x}"] and inline.dependencies == ["load"]
    assert after.dependencies == ["each", "inline"]
    assert spec.task("load").foreach is None


def _problems(tasks: str) -> list[tuple[int | None, str, str | None]]:
    return [(p.line, p.code, p.key) for p in validate_workflow("name: x\ntasks:\n" + tasks)]


@pytest.mark.parametrize(
    ("tasks", "expected"),
    [
        (  # ${item} outside a foreach task, located
            "  - id: a\n    method: llm/chat\n    parameters: {model: m, prompt: '${item}'}\n",
            [(5, "item-outside-foreach", "parameters.prompt")],
        ),
        (  # ... and in the list itself
            "  - id: a\n    method: llm/chat\n    foreach: ${item_index}\n    parameters: {model: m, prompt: hi}\n",
            [(5, "item-outside-foreach", "foreach")],
        ),
        (  # foreach that is not a list
            "  - id: a\n    method: llm/chat\n    foreach: 3\n    parameters: {model: m, prompt: '${item}'}\n",
            [(5, "wrong-type", "foreach")],
        ),
        (  # text around a reference is not a list either
            "  - id: a\n    method: llm/chat\n    foreach: 'x ${inputs.y}'\n    parameters: {model: m, prompt: hi}\n",
            [(5, "wrong-type", "foreach")],
        ),
        (  # max_concurrent without foreach, and a bad one
            "  - id: a\n    method: llm/chat\n    max_concurrent: 2\n    parameters: {model: m, prompt: hi}\n"
            "  - id: b\n    method: llm/chat\n    foreach: [1]\n    max_concurrent: 0\n"
            "    parameters: {model: m, prompt: hi}\n",
            [(5, "invalid-value", "max_concurrent"), (10, "invalid-value", "max_concurrent")],
        ),
        (  # a field one foreach item has, asked of the whole list
            "  - id: a\n    method: llm/chat\n    foreach: [1]\n    parameters: {model: m, prompt: hi}\n"
            "  - id: b\n    method: llm/chat\n    parameters: {model: m, prompt: '${a.response}'}\n",
            [(9, "unknown-field", "parameters.prompt")],
        ),
        (  # a task named item makes ${item} ambiguous inside foreach
            "  - id: item\n    method: llm/chat\n    parameters: {model: m, prompt: hi}\n"
            "  - id: b\n    method: llm/chat\n    foreach: [1]\n    parameters: {model: m, prompt: '${item}'}\n",
            [(9, "ambiguous-reference", "parameters.prompt")],
        ),
    ],
)
def test_invalid_foreach(tasks: str, expected: list[tuple[int, str, str]]) -> None:
    assert _problems(tasks) == expected


def test_an_inline_list_over_the_limit_is_refused_with_a_hint() -> None:
    items = ", ".join(["1"] * (MAX_FOREACH_ITEMS + 1))
    problems = validate_workflow(
        f"name: x\ntasks:\n  - id: a\n    method: llm/chat\n    foreach: [{items}]\n"
        "    parameters: {model: m, prompt: '${item}'}\n"
    )
    assert [(p.line, p.code) for p in problems] == [(5, "foreach-too-long")]
    assert "batch" in (problems[0].hint or "")


def test_item_bindings_resolve_and_walk() -> None:
    bindings = {"item": {"name": "x", "tags": ["a", "b"]}, "item_index": 3}
    value = {"p": "${item.name}/${item_index}", "t": "${item.tags[1]}", "i": "${item_index}"}
    assert resolve(value, {}, {}, bindings=bindings) == {"p": "x/3", "t": "b", "i": 3}
    # ${t[0]} of a foreach task's result: the first item's primary value.
    assert resolve("${t[1]}", {"t": {"result": ["a", "b"], "results": [], "count": 2}}, {}) == "b"
