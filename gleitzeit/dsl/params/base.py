"""What every method's parameter model shares, and how its errors become located load-time problems.

A method's parameters are one pydantic model (``extra="forbid"``, strict types). The same model checks
them twice:

- at load time (``load_issues``), validated with ``context={"load": True}``: a value that is a string
  holding a ``${...}`` reference is only known at run time, so it skips its check (so does a list item
  or mapping value that is one); the errors become :class:`ParamIssue` s with the codes and wording of
  ``gleitzeit validate`` (unknown-parameter with a did-you-mean, parameter-type, missing-parameter,
  conflicting-parameters);
- at run time, on the resolved parameters, without that context: nothing is skipped, and the first
  error names its key (``runtime_problem``) for the activity's non-retryable invalid-parameters failure.

Rules about which keys go together (``requirements``) are written once per model, over the raw mapping,
and used both ways: all of them are reported at load time, the first one fails a run.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import pydantic
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, WrapValidator, model_validator
from pydantic_core import PydanticCustomError

from gleitzeit.core.units import parse_duration, parse_size
from gleitzeit.dsl.suggest import did_you_mean

__all__ = [
    "Late",
    "MethodParams",
    "ParamIssue",
    "as_seconds",
    "as_size",
    "exactly_one",
    "expected",
    "is_load",
    "is_ref",
    "present",
    "runtime_problem",
    "type_name",
]


@dataclass(frozen=True)
class ParamIssue:
    """One problem with a parameter; ``path`` is relative to the task's parameters."""

    path: tuple[str | int, ...]
    code: str
    message: str
    hint: str | None = None
    at: str = "value"  # point at the key or the value


def is_ref(v: Any) -> bool:
    return isinstance(v, str) and "${" in v


def is_load(info: ValidationInfo) -> bool:
    """Whether this is the load-time check (references not resolved yet)."""
    context = info.context
    return isinstance(context, dict) and bool(context.get("load"))


def _late(v: Any, handler: Any, info: ValidationInfo) -> Any:
    if is_ref(v) and is_load(info):
        return v
    return handler(v)


# Put last in an ``Annotated[...]``: a reference skips every check of the value at load time.
Late = WrapValidator(_late)


def expected(text: str, default: Any = None, **kwargs: Any) -> Any:
    """A field whose load-time message reads "'key' must be <text>"."""
    return Field(default=default, json_schema_extra={"expected": text}, **kwargs)


def as_seconds(v: Any) -> float:
    """Validator body: a duration (see gleitzeit.core.units) as float seconds."""
    try:
        return parse_duration(v)
    except ValueError as exc:
        raise PydanticCustomError("duration", "{error}", {"error": str(exc)}) from None


def as_size(v: Any) -> int:
    """Validator body: a size (see gleitzeit.core.units) as bytes."""
    try:
        return parse_size(v)
    except ValueError as exc:
        raise PydanticCustomError("size", "{error}", {"error": str(exc)}) from None


def present(params: Mapping[str, Any], *keys: str) -> list[str]:
    return [k for k in keys if k in params and params[k] is not None]


def exactly_one(params: Mapping[str, Any], keys: tuple[str, ...], what: str, hint: str) -> list[ParamIssue]:
    given = present(params, *keys)
    if not given:
        return [
            ParamIssue((), "missing-parameter", f"missing {what}: give one of {', '.join(keys)}", hint, "key")
        ]
    if len(given) > 1:
        return [
            ParamIssue(
                (given[1],),
                "conflicting-parameters",
                f"give only one of {', '.join(keys)} (found {' and '.join(given)})",
                f"remove '{given[1]}'",
                "key",
            )
        ]
    return []


def type_name(v: Any) -> str:
    if isinstance(v, str) and len(v) <= 40:
        return repr(v)
    if isinstance(v, bool | int | float):
        return f"{str(v).lower() if isinstance(v, bool) else v}"
    return {
        bool: "a boolean",
        int: "an integer",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a mapping",
        type(None): "empty (null)",
    }.get(type(v), type(v).__name__)


class MethodParams(BaseModel):
    """Base of the parameter models: unknown keys refused, no silent coercion (``"5"`` is not 5)."""

    # defer_build: a model's validator is built when a task of its method is first checked, not at
    # import; `gleitzeit validate` of a pipeline builds the few its tasks use (issue 24).
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    method: ClassVar[str] = ""

    @classmethod
    def accepted(cls) -> tuple[str, ...]:
        """Every key the method takes, in the order its reference lists them (not the ones the loader
        sets, whose alias starts with ``_``)."""
        return tuple(k for k, f in cls.model_fields.items() if not (f.alias or "").startswith("_"))

    @classmethod
    def requirements(cls, params: Mapping[str, Any]) -> list[ParamIssue]:
        """Which keys must (or must not) be given together; checked on the raw mapping."""
        del params
        return []

    @classmethod
    def nested_issues(cls, key: str, value: Any, errors: list[Any]) -> list[ParamIssue] | None:
        """Load-time wording for errors inside one key's value; None for the plain "must be" message."""
        del key, value, errors
        return None

    @model_validator(mode="before")
    @classmethod
    def _check_requirements(cls, data: Any, info: ValidationInfo) -> Any:
        if not is_load(info) and isinstance(data, Mapping):
            issues = cls.requirements(data)
            if issues:
                first = issues[0]
                key = str(first.path[0]) if first.path else ""
                raise PydanticCustomError(
                    first.code.replace("-", "_"), "{message}", {"message": first.message, "key": key}
                )
        return data

    @classmethod
    def load_issues(cls, params: Mapping[str, Any]) -> list[ParamIssue]:
        """Every problem with ``params`` as written (references unknown yet)."""
        issues: list[ParamIssue] = []
        try:
            cls.model_validate(dict(params), context={"load": True})
        except pydantic.ValidationError as exc:
            issues.extend(cls._issues_of(params, exc))
        issues.extend(cls.requirements(params))
        return issues

    @classmethod
    def _issues_of(cls, params: Mapping[str, Any], exc: pydantic.ValidationError) -> list[ParamIssue]:
        by_key: dict[str, list[Any]] = {}
        for err in exc.errors():
            if err["loc"]:
                by_key.setdefault(str(err["loc"][0]), []).append(err)
        issues: list[ParamIssue] = []
        for key, errors in by_key.items():
            value = params.get(key)
            if any(e["type"] == "extra_forbidden" and len(e["loc"]) == 1 for e in errors):
                names = cls.accepted()
                issues.append(
                    ParamIssue(
                        (key,),
                        "unknown-parameter",
                        f"unknown parameter '{key}' for {cls.method}",
                        did_you_mean(key, names, otherwise=f"{cls.method} takes: {', '.join(names)}"),
                        "key",
                    )
                )
                continue
            nested = cls.nested_issues(key, value, errors)
            if nested is not None:
                issues.extend(nested)
                continue
            custom = next((e for e in errors if "error" in (e.get("ctx") or {})), None)
            what = _expected_of(cls, key)
            if custom is not None:
                message = f"'{key}': {custom['ctx'].get('error', custom['msg'])}"
            else:
                message = f"'{key}' must be {what}, not {type_name(value)}"
            issues.append(ParamIssue((key,), "parameter-type", message, f"write {key} as {what}"))
        return issues


def _expected_of(cls: type[MethodParams], key: str) -> str:
    field = cls.model_fields.get(key) or next((f for f in cls.model_fields.values() if f.alias == key), None)
    extra = field.json_schema_extra if field is not None else None
    if isinstance(extra, dict) and isinstance(extra.get("expected"), str):
        return str(extra["expected"])
    return "a valid value"


_INDEX = re.compile(r"^\d+$")


def runtime_problem(exc: pydantic.ValidationError) -> tuple[str, str, str]:
    """(key, message, error type) of the first error of a run-time check.

    The key is a parameter (``memory``), an item (``args[0]``, ``messages[1]``) or a variable
    (``env.NAME``); the type is pydantic's (``int_type``...) or a rule's (``missing_parameter``).
    """
    err = exc.errors()[0]
    ctx = err.get("ctx") or {}
    loc = [str(x) for x in err["loc"]]
    if ctx.get("key") is not None:
        key = str(ctx["key"])
    elif not loc:
        key = ""
    elif loc[0] == "env" and len(loc) > 1:
        key = f"env.{loc[1]}"
    elif loc[0] in ("messages", "args", "files", "images", "image_paths", "mounts") and len(loc) > 1:
        index = next((x for x in loc[1:] if _INDEX.match(x)), None)
        key = f"{loc[0]}[{index}]" if index is not None else loc[0]
    else:
        key = loc[0]
    if err["type"] == "extra_forbidden" and len(loc) == 1:
        return key, "unknown parameter", err["type"]
    message = str(ctx.get("message") or ctx.get("error") or err["msg"])
    return key, message, err["type"]
