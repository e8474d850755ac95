"""Workflow inputs: the ``inputs:`` block at load time, and binding given values at run time.

Declared either in full, ``topic: {type: string, default: AI, description: ..., required: false}``, or
in the short form ``topic: AI`` (a default whose type is inferred; ``topic:`` with no value declares
a required input of any type). A mapping value is always the full form, so an object default needs
``{type: object, default: {...}}``. An input without a default is required unless it says
``required: false`` (then it is null when not given).

``bind_inputs(spec, given)`` returns every declared input's value: given values (strings from the
CLI's ``-i key=value`` are coerced to the declared type), else defaults. All problems (a missing
required input, an unknown name, a value of the wrong type) are raised together as one
``ValidationError``.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any, get_args

from gleitzeit.contracts.spec import InputSpec, InputType, WorkflowSpec
from gleitzeit.core.errors import Problem, ValidationError
from gleitzeit.dsl.report import Reporter
from gleitzeit.dsl.suggest import did_you_mean

__all__ = ["INPUT_NAME", "bind_inputs", "coerce_input", "parse_inputs", "type_matches"]

INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_TYPES: tuple[str, ...] = get_args(InputType)
_SPEC_KEYS = ("type", "default", "description", "required")
_TRUE = ("true", "yes", "on", "1")
_FALSE = ("false", "no", "off", "0")


def type_matches(type_: str, value: Any) -> bool:
    """Whether ``value`` (not a string to coerce) has the declared input type."""
    if value is None or type_ == "any":
        return True
    return {
        "string": isinstance(value, str),
        "integer": isinstance(value, int) and not isinstance(value, bool),
        "number": isinstance(value, int | float) and not isinstance(value, bool),
        "boolean": isinstance(value, bool),
        "list": isinstance(value, list),
        "object": isinstance(value, dict),
    }.get(type_, False)


def _infer(value: Any) -> str:
    for t in ("boolean", "integer", "number", "string", "list", "object"):
        if type_matches(t, value):
            return t
    return "any"


def parse_inputs(raw: Any, reporter: Reporter) -> dict[str, InputSpec]:
    """The ``inputs:`` block as InputSpecs; problems go to ``reporter``."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        reporter.add(
            "wrong-type",
            "'inputs' must be a mapping of input names",
            ("inputs",),
            key="inputs",
            hint="write 'inputs:' then one 'name: default' (or 'name: {type, default}') per line",
        )
        return {}
    specs: dict[str, InputSpec] = {}
    for name, decl in raw.items():
        path = ("inputs", name)
        key = f"inputs.{name}"
        line = reporter.positions.locate(path, "key")[0]
        if not isinstance(name, str) or not INPUT_NAME.match(name):
            reporter.add(
                "bad-name",
                f"input name {name!r} is not a plain name",
                path,
                key=key,
                at="key",
                hint="use letters, digits, '_' and '-', starting with a letter",
            )
            continue
        if not isinstance(decl, dict):
            if decl is None:
                specs[name] = InputSpec(type="any", required=True, line=line)
            else:
                specs[name] = InputSpec(type=_infer(decl), default=decl, line=line)  # type: ignore[arg-type]
            continue
        ok = True
        for k in decl:
            if k not in _SPEC_KEYS:
                ok = False
                reporter.add(
                    "unknown-key",
                    f"unknown key '{k}' in input '{name}'",
                    (*path, k),
                    key=f"{key}.{k}",
                    at="key",
                    hint=did_you_mean(
                        str(k),
                        _SPEC_KEYS,
                        otherwise=(
                            "an input takes type, default, description and required; an object default "
                            "goes under 'default:'"
                        ),
                    ),
                )
        type_ = decl.get("type", "any" if "default" not in decl else _infer(decl["default"]))
        if type_ not in _TYPES:
            ok = False
            reporter.add(
                "invalid-value",
                f"unknown input type {type_!r}",
                (*path, "type"),
                key=f"{key}.type",
                hint=did_you_mean(str(type_), _TYPES, otherwise=f"use one of {', '.join(_TYPES)}"),
            )
            type_ = "any"
        default = decl.get("default")
        if "default" in decl and not type_matches(type_, default):
            ok = False
            reporter.add(
                "input-type",
                f"the default of input '{name}' is not of type {type_}",
                (*path, "default"),
                key=f"{key}.default",
                hint=f"give a default of type {type_}, or change the type",
            )
        required = decl.get("required", "default" not in decl)
        if not isinstance(required, bool):
            ok = False
            reporter.add(
                "wrong-type",
                "'required' must be true or false",
                (*path, "required"),
                key=f"{key}.required",
                hint="write 'required: true' or 'required: false'",
            )
            required = True
        description = decl.get("description")
        if description is not None and not isinstance(description, str):
            description = str(description)
        if ok:
            specs[name] = InputSpec(
                type=type_, default=default, required=required, description=description, line=line
            )
    return specs


def coerce_input(type_: str, value: Any) -> Any:
    """A given value converted to the declared type; raises ValueError with the reason when it cannot be."""
    if not isinstance(value, str) or type_ == "string":
        if not type_matches(type_, value):
            raise ValueError(f"expected {type_}, got {type(value).__name__}")
        return copy.deepcopy(value)  # the caller's lists and dicts stay theirs
    text = value.strip()
    if type_ == "integer":
        try:
            return int(text)
        except ValueError:
            raise ValueError(f"{value!r} is not an integer") from None
    if type_ == "number":
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
        return int(number) if re.fullmatch(r"[+-]?\d+", text) else number
    if type_ == "boolean":
        if text.lower() in _TRUE:
            return True
        if text.lower() in _FALSE:
            return False
        raise ValueError(f"{value!r} is not true or false")
    if type_ in ("list", "object"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError:
            raise ValueError(f"{value!r} is not JSON") from None
        if not type_matches(type_, parsed):
            raise ValueError(f"{value!r} is not a JSON {'array' if type_ == 'list' else 'object'}")
        return parsed
    return value  # any: a CLI string stays a string


def bind_inputs(spec: WorkflowSpec, given: Mapping[str, Any]) -> dict[str, Any]:
    """Every declared input's value for one run (given, else default); raises ValidationError."""
    problems: list[Problem] = []
    where = spec.source_file
    for name in given:
        if name not in spec.inputs:
            declared = list(spec.inputs)
            problems.append(
                Problem(
                    message=f"unknown input '{name}'",
                    file=where,
                    key=f"inputs.{name}",
                    code="unknown-input",
                    hint=did_you_mean(
                        str(name),
                        declared,
                        otherwise=(
                            f"this workflow takes: {', '.join(declared)}"
                            if declared
                            else f"declare it: add an 'inputs:' entry named '{name}'"
                        ),
                    ),
                )
            )
    bound: dict[str, Any] = {}
    for name, decl in spec.inputs.items():
        if name in given:
            try:
                bound[name] = coerce_input(decl.type, given[name])
            except ValueError as exc:
                problems.append(
                    Problem(
                        message=f"input '{name}' must be of type {decl.type}: {exc}",
                        file=where,
                        line=decl.line,
                        key=f"inputs.{name}",
                        code="input-type",
                        hint=f"pass a {decl.type}, e.g. -i {name}=" + _EXAMPLES.get(decl.type, "value"),
                    )
                )
        elif decl.required:
            problems.append(
                Problem(
                    message=f"required input '{name}' was not given",
                    file=where,
                    line=decl.line,
                    key=f"inputs.{name}",
                    code="missing-input",
                    hint=f"pass it: -i {name}=... (or inputs={{'{name}': ...}}), or give it a default",
                )
            )
        else:
            bound[name] = copy.deepcopy(decl.default)
    if problems:
        raise ValidationError(problems=problems)
    return bound


_EXAMPLES = {
    "integer": "3",
    "number": "0.5",
    "boolean": "true",
    "list": "'[1, 2]'",
    "object": "'{\"k\": 1}'",
    "string": "text",
}
