"""References between tasks: find them, rewrite them, resolve them (pure and deterministic).

Syntax, inside any string of a task's parameters, ``when`` or the workflow's ``outputs``::

    ${task.response}          a field of the task's result dict
    ${task.result.a.b}        walk into nested dicts with .key
    ${task.result.items[0]}   index lists with [n] (negative n counts from the end)
    ${task.result['a.b']}     a quoted key holds dots or brackets
    ${task}                   the task's primary value (see below)
    ${inputs.name}            a workflow input (and ${inputs.name.key} walks into it)
    ${item} ${item_index}     inside a ``foreach:`` task: the current item (walk it with .key / [n])
                              and its 0-based position
    $${                       a literal "${" (nothing is resolved there)

A string that is exactly one reference keeps the value's type (a number stays a number, a list a
list). Inside a longer string each value is rendered as text: a str as is, numbers, booleans and null
JSON-style (``true``, ``null``), lists and dicts as compact JSON.

**Primary field (the signature choice).** ``${t}``, and ``${t.result}`` when t's result dict has no
``"result"`` key, mean the method's primary field (``MethodInfo.primary_field``: ``response`` for
the LLM text methods, ``embeddings`` for llm/embed). So ``${llm_task.result}`` is the text, while for
a python task (whose result dict has a ``"result"`` key) both are the script's JSON. ``resolve`` takes
the primary fields as an optional keyword argument ``primary_fields: Mapping[task id, field]``; build
it once per workflow with ``primary_fields_for(spec)``. A task missing from that mapping (or no
mapping at all) falls back to the first of ``result``, ``response``, ``embeddings`` present in its
result dict, which gives the same answer for every result the activities return.

Errors (a bad reference, a task without a result, a missing field or index) are always
``gleitzeit.core.errors.ValidationError``, naming the reference. Nothing here mutates its input.

**Offloaded results.** A result too large for Temporal stands in the workflow's results as a blob
marker (``gleitzeit.contracts.tasks.OffloadedResult``). ``resolve(..., defer=True)`` (a task's
parameters, the run's outputs) turns a reference into one into a deferred reference that the activity
(or the client) resolves with :func:`value_in_result` once it has read the blob; without ``defer`` (a
``when:`` condition, a ``foreach:`` list, decided in the workflow, which reads no files) such a
reference is an error that says what to do.

Why one module of ~410 lines: parsing, rewriting and resolving share the grammar (``Reference``, its
segments and their canonical text) and the primary-field rule; split, each part would import the others.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gleitzeit.contracts.tasks import DEFERRED_KEY, DEFERRED_TEXT_KEY, OFFLOADED_KEY, offloaded_ref
from gleitzeit.core.errors import Problem, ValidationError
from gleitzeit.dsl.methods import is_method, method_info

if TYPE_CHECKING:
    from gleitzeit.contracts.spec import WorkflowSpec

__all__ = [
    "INPUTS_ROOT",
    "ITEM_INDEX_ROOT",
    "ITEM_ROOT",
    "LOOP_ROOTS",
    "Reference",
    "answer_text_alias",
    "find_references",
    "format_reference",
    "parse_template",
    "primary_fields_for",
    "render_text",
    "resolve",
    "rewrite_references",
    "value_in_result",
]

INPUTS_ROOT = "inputs"
ITEM_ROOT = "item"
ITEM_INDEX_ROOT = "item_index"
# Names a foreach task's parameters and ``when`` may use; bound per item (``resolve(bindings=...)``).
LOOP_ROOTS = (ITEM_ROOT, ITEM_INDEX_ROOT)
Segment = str | int

_FALLBACK_PRIMARY = ("result", "response", "embeddings")
_PLAIN_KEY = re.compile(r"[^.\[\]'\"{}$\s][^.\[\]'\"{}$]*")
_INDEX = re.compile(r"\[\s*(-?\d+)\s*\]")
_QUOTED = re.compile(r"""\[\s*(?:'([^']*)'|"([^"]*)")\s*\]""")


@dataclass(frozen=True)
class Reference:
    """One ``${...}``: ``root`` is a task id/name or ``inputs``, ``path`` the segments after it."""

    root: str
    path: tuple[Segment, ...]
    raw: str  # the text as written, "${...}" included

    @property
    def is_input(self) -> bool:
        return self.root == INPUTS_ROOT

    def __str__(self) -> str:
        return self.raw


def _syntax_error(text: str, detail: str) -> ValidationError:
    return ValidationError(
        problems=[
            Problem(
                message=f"bad reference in {text!r}: {detail}",
                hint="write ${task.field}, ${task.result.key[0]} or ${inputs.name}; a literal ${ is $${",
                code="reference-syntax",
            )
        ]
    )


def _parse_inner(inner: str, raw: str) -> Reference:
    body = inner.strip()
    if not body:
        raise _syntax_error(raw, "empty reference")
    m = re.match(r"[^.\[\]]+", body)
    if m is None:
        raise _syntax_error(raw, "it must start with a task id, a task name or 'inputs'")
    root = m.group(0).strip()
    if not root:
        raise _syntax_error(raw, "it must start with a task id, a task name or 'inputs'")
    pos = m.end()
    path: list[Segment] = []
    while pos < len(body):
        if body[pos] == ".":
            key = _PLAIN_KEY.match(body, pos + 1)
            if key is None:
                raise _syntax_error(raw, f"expected a field name after '.' at position {pos + 1}")
            path.append(key.group(0).rstrip())
            pos = key.end()
        elif (idx := _INDEX.match(body, pos)) is not None:
            path.append(int(idx.group(1)))
            pos = idx.end()
        elif (quoted := _QUOTED.match(body, pos)) is not None:
            path.append(quoted.group(1) if quoted.group(1) is not None else quoted.group(2))
            pos = quoted.end()
        else:
            raise _syntax_error(raw, f"unexpected {body[pos]!r} (use .key, [0] or ['key'])")
    return Reference(root, tuple(path), raw)


def parse_template(text: str) -> list[str | Reference]:
    """Split a string into literal parts and references (``$${`` becomes a literal ``${``)."""
    parts: list[str | Reference] = []
    literal: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        if text.startswith("$${", i):
            literal.append("${")
            i += 3
        elif text.startswith("${", i):
            end = text.find("}", i + 2)
            if end < 0:
                raise _syntax_error(text, "'${' without a closing '}'")
            if literal:
                parts.append("".join(literal))
                literal = []
            raw = text[i : end + 1]
            parts.append(_parse_inner(text[i + 2 : end], raw))
            i = end + 1
        else:
            nxt = text.find("$", i + 1)
            nxt = n if nxt < 0 else nxt
            literal.append(text[i:nxt])
            i = nxt
    if literal:
        parts.append("".join(literal))
    return parts


def find_references(value: Any) -> list[Reference]:
    """Every reference in a value (strings, dicts, lists, nested), in order of appearance."""
    found: list[Reference] = []

    def walk(v: Any) -> None:
        if isinstance(v, str):
            if "${" in v:
                found.extend(p for p in parse_template(v) if isinstance(p, Reference))
        elif isinstance(v, Mapping):
            for item in v.values():
                walk(item)
        elif isinstance(v, list | tuple):
            for item in v:
                walk(item)

    walk(value)
    return found


def format_reference(root: str, path: tuple[Segment, ...]) -> str:
    """The canonical text of a reference: ``${root.key[0]['a.b']}``."""
    out = [root]
    for seg in path:
        if isinstance(seg, int):
            out.append(f"[{seg}]")
        elif _PLAIN_KEY.fullmatch(seg) and seg == seg.strip():
            out.append(f".{seg}")
        elif "'" not in seg:
            out.append(f"['{seg}']")
        else:
            out.append(f'["{seg}"]')
    return "${" + "".join(out) + "}"


def _escape(text: str) -> str:
    return text.replace("${", "$${")


def rewrite_references(value: Any, rewrite: Callable[[Reference], Reference]) -> Any:
    """A copy of ``value`` with every reference replaced by ``rewrite(ref)``; literals keep escapes."""
    if isinstance(value, str):
        if "${" not in value:
            return value
        pieces = []
        for part in parse_template(value):
            if isinstance(part, Reference):
                new = rewrite(part)
                pieces.append(format_reference(new.root, new.path))
            else:
                pieces.append(_escape(part))
        return "".join(pieces)
    if isinstance(value, Mapping):
        return {k: rewrite_references(v, rewrite) for k, v in value.items()}
    if isinstance(value, list):
        return [rewrite_references(v, rewrite) for v in value]
    if isinstance(value, tuple):
        return tuple(rewrite_references(v, rewrite) for v in value)
    return value


def primary_fields_for(spec: WorkflowSpec) -> dict[str, str]:
    """Task id -> primary field of its method, for ``resolve(..., primary_fields=...)``."""
    return {t.id: method_info(t.method).primary_field for t in spec.tasks if is_method(t.method)}


# How the original Gleitzeit's files name an LLM task's answer text (its results were Ollama's
# ``{response, message: {content}, model, done}``): each means our ``response``.
_ANSWER_TEXT_PATHS: frozenset[tuple[Segment, ...]] = frozenset(
    {("content",), ("result", "content"), ("message", "content"), ("result", "message", "content")}
)


def answer_text_alias(path: tuple[Segment, ...], primary_field: str) -> tuple[Segment, ...] | None:
    """``("response",)`` when ``path`` is one of the original's names for an LLM answer's text
    (``${t.content}``, ``${t.result.content}``, ``${t.message.content}``) and the task's primary field
    is ``response``; else None. The loader rewrites such references, so runs never see them."""
    if primary_field == "response" and path in _ANSWER_TEXT_PATHS:
        return ("response",)
    return None


def render_text(value: Any) -> str:
    """How a value reads inside a longer string: str as is, everything else compact JSON."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
    except (TypeError, ValueError):  # circular structures and the like
        return str(value)


def _error(ref: Reference, detail: str, code: str = "reference-unresolved") -> ValidationError:
    return ValidationError(problems=[Problem(message=f"cannot resolve {ref.raw}: {detail}", code=code)])


def _primary(result: Mapping[str, Any], field: str | None) -> Any:
    if "result" in result:
        return result["result"]
    if field is not None and field in result:
        return result[field]
    for name in _FALLBACK_PRIMARY:
        if name in result:
            return result[name]
    return dict(result)


def _walk(ref: Reference, value: Any, path: tuple[Segment, ...], where: str) -> Any:
    for seg in path:
        if isinstance(value, Mapping) and len(value) == 1 and OFFLOADED_KEY in value:
            raise _error(
                ref,
                f"{where} was offloaded to the data dir (over offload_threshold_bytes), and a reference "
                f"cannot walk into an offloaded foreach item; pass the whole list to the task and pick "
                "there, or raise GLEITZEIT_OFFLOAD_THRESHOLD_BYTES (below 2 MiB)",
                code="result-offloaded",
            )
        if isinstance(seg, int):
            if not isinstance(value, list | tuple):
                raise _error(ref, f"{where} is {type(value).__name__}, not a list, so [{seg}] does not apply")
            if not -len(value) <= seg < len(value):
                raise _error(ref, f"index [{seg}] is out of range: {where} has {len(value)} items")
            value = value[seg]
            where += f"[{seg}]"
        else:
            if not isinstance(value, Mapping):
                raise _error(
                    ref, f"{where} is {type(value).__name__}, not an object, so .{seg} does not apply"
                )
            if seg not in value:
                keys = ", ".join(sorted(str(k) for k in value)[:12]) or "none"
                raise _error(ref, f"{where} has no field '{seg}' (fields: {keys})")
            value = value[seg]
            where += f".{seg}"
    return value


def _value_of(
    ref: Reference,
    results: Mapping[str, Any],
    inputs: Mapping[str, Any],
    primary_fields: Mapping[str, str] | None,
    bindings: Mapping[str, Any] | None = None,
    defer: bool = False,
) -> Any:
    if bindings and ref.root in bindings:
        return _walk(ref, bindings[ref.root], ref.path, ref.root)
    if ref.is_input:
        if not ref.path or not isinstance(ref.path[0], str):
            raise _error(ref, "name the input: ${inputs.name}")
        name = ref.path[0]
        if name not in inputs:
            raise _error(ref, f"no input named '{name}' was given")
        return _walk(ref, inputs[name], ref.path[1:], f"input '{name}'")
    if ref.root not in results:
        raise _error(
            ref,
            f"task '{ref.root}' has no result (it did not run, was skipped or failed)",
            code="missing-result",
        )
    result = results[ref.root]
    field = primary_fields.get(ref.root) if primary_fields else None
    if isinstance(result, Mapping) and (blob := offloaded_ref(result)) is not None:
        if not defer:
            raise _error(
                ref,
                f"the result of task '{ref.root}' ({blob.size / 1_048_576:.1f} MiB) was offloaded to the "
                "data dir (over offload_threshold_bytes), and a when: condition or a foreach: list is "
                "decided in the workflow, which reads no offloaded results; have that task return the "
                "small value to decide on as a field of its own (or a shorter list), or raise "
                "GLEITZEIT_OFFLOAD_THRESHOLD_BYTES (below 2 MiB)",
                code="result-offloaded",
            )
        return {DEFERRED_KEY: {"blob": blob.model_dump(), "task": ref.root, "ref": ref.raw, "primary": field}}
    return value_in_result(ref, result, field)


def value_in_result(ref: Reference, result: Any, field: str | None) -> Any:
    """What ``ref`` names inside its task's ``result`` (the task's primary field ``field``): the part
    of resolving that needs the result itself, shared with the activity side's deferred references."""
    where = f"the result of task '{ref.root}'"
    if not isinstance(result, Mapping):
        return _walk(ref, result, ref.path, where)
    if not ref.path:
        return _primary(result, field)
    head = ref.path[0]
    if isinstance(head, int):  # ${t[0]}: an item of the primary value (a foreach task's list)
        return _walk(ref, _primary(result, field), ref.path, f"{where} (its primary field)")
    if head == "result" and "result" not in result:
        return _walk(ref, _primary(result, field), ref.path[1:], f"{where} (its primary field)")
    return _walk(ref, result, ref.path, where)


def resolve(
    value: Any,
    results: Mapping[str, Any],
    inputs: Mapping[str, Any],
    *,
    primary_fields: Mapping[str, str] | None = None,
    bindings: Mapping[str, Any] | None = None,
    defer: bool = False,
) -> Any:
    """``value`` with every reference replaced by what it names; walks dicts/lists, never mutates.

    ``results`` maps task id -> that task's result dict, ``inputs`` the bound workflow inputs,
    ``primary_fields`` task id -> its method's primary field (see the module docstring), ``bindings``
    names bound to values before tasks are looked at (a foreach item's ``item`` and ``item_index``).
    ``defer``: a reference into an offloaded result becomes a deferred reference (see above) instead
    of an error.
    """
    if isinstance(value, str):
        if "${" not in value:
            return value
        parts = parse_template(value)
        if len(parts) == 1 and isinstance(parts[0], Reference):
            return _value_of(parts[0], results, inputs, primary_fields, bindings, defer)
        values = [
            _value_of(p, results, inputs, primary_fields, bindings, defer) if isinstance(p, Reference) else p
            for p in parts
        ]
        pieces = [
            v if isinstance(p, str) or (defer and _is_deferred(v)) else render_text(v)
            for p, v in zip(parts, values, strict=True)
        ]
        if defer and any(not isinstance(piece, str) for piece in pieces):
            return {DEFERRED_TEXT_KEY: pieces}
        return "".join(pieces)
    if isinstance(value, Mapping):
        return {
            k: resolve(v, results, inputs, primary_fields=primary_fields, bindings=bindings, defer=defer)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [
            resolve(v, results, inputs, primary_fields=primary_fields, bindings=bindings, defer=defer)
            for v in value
        ]
    if isinstance(value, tuple):
        return tuple(
            resolve(v, results, inputs, primary_fields=primary_fields, bindings=bindings, defer=defer)
            for v in value
        )
    return value


def _is_deferred(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and DEFERRED_KEY in value
