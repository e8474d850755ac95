"""``when:`` conditions: a small, safe expression language over references.

Examples::

    when: ${check.result.ok}                      # a bare reference is truth-tested
    when: ${classify.response} == 'yes'
    when: ${stats.result.count} > 3 and not ${inputs.dry_run}
    when: "'error' not in ${fetch.result.status}"

Allowed: literals (strings, numbers, ``true``/``false``/``null`` and their Python spellings, lists and
tuples of literals), comparisons (``== != < <= > >= in not in``), ``and``/``or``/``not``, unary minus
and parentheses. No calls, attributes, subscripts, arithmetic or names other than references. The
expression is parsed with ``ast`` in eval mode after every reference is replaced by a placeholder
name, then interpreted by walking the tree (nothing is ``eval``-ed). A reference inside a quoted
string literal is substituted as text.

``check(expr)`` validates at load time; ``evaluate(expr, results, inputs)`` decides at run time. Both
raise ``gleitzeit.core.errors.ValidationError`` only. ``evaluate`` is pure and deterministic.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from typing import Any

from gleitzeit.core.errors import Problem, ValidationError
from gleitzeit.dsl.references import Reference, parse_template, render_text, resolve

__all__ = ["check", "evaluate", "references_in"]

_PREFIX = "__gz_ref_"
_CONSTANTS = {
    "true": True,
    "false": False,
    "null": None,
    "none": None,
    "True": True,
    "False": False,
    "None": None,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}


def _fail(expr: str, detail: str, hint: str | None = None, code: str = "condition-syntax") -> ValidationError:
    hint = hint or 'write e.g. "${task.response} == \'yes\'" or "${task.result.count} > 3 and ${inputs.flag}"'
    return ValidationError(
        problems=[Problem(message=f"bad condition {expr!r}: {detail}", hint=hint, code=code)]
    )


def _compile(expr: str) -> tuple[ast.Expression, list[Reference]]:
    parts = parse_template(expr)
    refs: list[Reference] = []
    text: list[str] = []
    for part in parts:
        if isinstance(part, Reference):
            text.append(f"{_PREFIX}{len(refs)}")
            refs.append(part)
        else:
            text.append(part)
    source = "".join(text).strip()
    if not source:
        raise _fail(expr, "the condition is empty")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise _fail(expr, f"syntax error ({exc.msg})") from None
    for node in ast.walk(tree):
        _allowed(node, expr, len(refs))
    return tree, refs


def _allowed(node: ast.AST, expr: str, n_refs: int) -> None:
    ok = (
        ast.Expression,
        ast.BoolOp,
        ast.And,
        ast.Or,
        ast.UnaryOp,
        ast.Not,
        ast.USub,
        ast.UAdd,
        ast.Compare,
        ast.Constant,
        ast.List,
        ast.Tuple,
        ast.Load,
        *_COMPARE,
    )
    if isinstance(node, ast.Name):
        if node.id in _CONSTANTS:
            return
        if (
            node.id.startswith(_PREFIX)
            and node.id[len(_PREFIX) :].isdigit()
            and int(node.id[len(_PREFIX) :]) < n_refs
        ):
            return
        raise _fail(
            expr,
            f"unknown name '{node.id}'",
            f"quote text ('{node.id}') or reference a value with ${{task.field}} / ${{inputs.{node.id}}}",
        )
    if isinstance(node, ast.Call):
        raise _fail(expr, "function calls are not allowed")
    if isinstance(node, ast.Attribute):
        raise _fail(expr, "attribute access is not allowed", "use ${task.result.key} to reach into a result")
    if not isinstance(node, ok):
        raise _fail(expr, f"'{type(node).__name__}' is not allowed in a condition")


def check(expr: str) -> list[Reference]:
    """Validate a condition; the references it uses (raises ValidationError when malformed)."""
    return _compile(expr)[1]


def references_in(expr: str) -> list[Reference]:
    """The references in a condition, without validating the rest of it."""
    return [p for p in parse_template(expr) if isinstance(p, Reference)]


def evaluate(
    expr: str,
    results: Mapping[str, Any],
    inputs: Mapping[str, Any],
    *,
    primary_fields: Mapping[str, str] | None = None,
    bindings: Mapping[str, Any] | None = None,
) -> bool:
    """Whether a ``when:`` condition holds, given the task results and inputs so far (and, in a
    foreach task, the item's ``bindings``)."""
    tree, refs = _compile(expr)
    values = [resolve(r.raw, results, inputs, primary_fields=primary_fields, bindings=bindings) for r in refs]

    def text_of(s: str) -> str:
        # A reference written inside a quoted literal is substituted as text.
        for i in range(len(values) - 1, -1, -1):
            s = s.replace(f"{_PREFIX}{i}", render_text(values[i]))
        return s

    def ev(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return ev(node.body)
        if isinstance(node, ast.Constant):
            return (
                text_of(node.value) if isinstance(node.value, str) and _PREFIX in node.value else node.value
            )
        if isinstance(node, ast.Name):
            if node.id in _CONSTANTS:
                return _CONSTANTS[node.id]
            return values[int(node.id[len(_PREFIX) :])]
        if isinstance(node, ast.List | ast.Tuple):
            return [ev(e) for e in node.elts]
        if isinstance(node, ast.BoolOp):
            if isinstance(node.op, ast.And):
                return all(bool(ev(v)) for v in node.values)
            return any(bool(ev(v)) for v in node.values)
        if isinstance(node, ast.UnaryOp):
            operand = ev(node.operand)
            if isinstance(node.op, ast.Not):
                return not operand
            if isinstance(node.op, ast.USub):
                return -operand
            return +operand
        if isinstance(node, ast.Compare):
            left = ev(node.left)
            for op, comparator in zip(node.ops, node.comparators, strict=True):
                right = ev(comparator)
                if not _COMPARE[type(op)](left, right):
                    return False
                left = right
            return True
        raise _fail(expr, f"'{type(node).__name__}' is not allowed in a condition")

    try:
        return bool(ev(tree))
    except ValidationError:
        raise
    except (TypeError, ValueError, ArithmeticError) as exc:
        raise _fail(
            expr,
            f"cannot be evaluated with these values ({exc})",
            "compare values of the same kind, e.g. numbers with numbers",
            code="condition-error",
        ) from None
