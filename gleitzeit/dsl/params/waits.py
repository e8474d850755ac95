"""Parameters of the methods that wait on the workflow side, without an activity or a worker slot:
``time/sleep`` (``duration``), ``time/until`` (``at``) and ``human/approval``.

``duration`` and ``timeout`` use the one duration grammar (gleitzeit.core.units); ``at`` is an ISO 8601
timestamp with a time zone (``2026-12-24T06:00:00Z``, ``...+01:00``): a time without one would mean a
different moment on every worker. An approval's ``schema`` is a JSON schema (checked when the file
loads) for the ``data`` an approver sends; ``approvers`` are the names allowed to answer.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from jsonschema import exceptions as schema_errors
from jsonschema.validators import validator_for
from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from gleitzeit.dsl.params.base import Late, MethodParams, ParamIssue, as_seconds, expected, present

__all__ = ["ApprovalParams", "SleepParams", "UntilParams", "check_schema", "parse_at"]

_DURATION = "a duration like 90s, 5m, 48h, 3d or PT1H"


def parse_at(value: Any) -> datetime:
    """An aware datetime from an ISO 8601 timestamp; ValueError saying what to write otherwise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise ValueError(
                f"{value!r} is not an ISO 8601 timestamp: write e.g. 2026-12-24T06:00:00Z"
            ) from None
    else:
        raise ValueError(
            f"a timestamp is needed, not {type(value).__name__}: write e.g. 2026-12-24T06:00:00Z"
        )
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{value!r} has no time zone: add Z (UTC) or an offset like +01:00")
    return moment


def _at(v: Any) -> str:
    try:
        return parse_at(v).isoformat()
    except ValueError as exc:
        raise PydanticCustomError("timestamp", "{error}", {"error": str(exc)}) from None


def check_schema(schema: Any) -> str | None:
    """Why ``schema`` is not a JSON schema its validator accepts, or None when it is."""
    if not isinstance(schema, dict | bool):
        return "a JSON schema is a mapping (e.g. {type: object, required: [note]})"
    try:
        validator_for(schema).check_schema(schema)
    except schema_errors.SchemaError as exc:
        where = "/".join(str(p) for p in exc.path)
        return f"not a valid JSON schema{f' at {where}' if where else ''}: {exc.message}"
    return None


def _schema(v: Any) -> Any:
    problem = check_schema(v) if v is not None else None
    if problem:
        raise PydanticCustomError("json_schema", "{error}", {"error": problem})
    return v


def _required(params: Mapping[str, Any], key: str, example: str) -> list[ParamIssue]:
    if present(params, key):
        return []
    return [ParamIssue((), "missing-parameter", f"missing parameter '{key}'", f"add '{example}'", "key")]


class SleepParams(MethodParams):
    """``time/sleep``: wait ``duration`` (a durable timer)."""

    method: ClassVar[str] = "time/sleep"

    duration: Annotated[float | None, BeforeValidator(lambda v: v if v is None else as_seconds(v)), Late] = (
        expected(_DURATION)
    )

    @classmethod
    def requirements(cls, params: Mapping[str, Any]) -> list[ParamIssue]:
        return _required(params, "duration", "duration: 1h")


class UntilParams(MethodParams):
    """``time/until``: wait until ``at`` (at once when it has passed)."""

    method: ClassVar[str] = "time/until"

    at: Annotated[str | None, BeforeValidator(lambda v: v if v is None else _at(v)), Late] = expected(
        "an ISO 8601 timestamp with a time zone, like 2026-12-24T06:00:00Z"
    )

    @classmethod
    def requirements(cls, params: Mapping[str, Any]) -> list[ParamIssue]:
        return _required(params, "at", "at: 2026-12-24T06:00:00Z")


class ApprovalParams(MethodParams):
    """``human/approval``: wait for a person's answer (``gleitzeit approve``), at most ``timeout``."""

    method: ClassVar[str] = "human/approval"

    prompt: Annotated[str | None, Late] = expected("a string")
    timeout: Annotated[float | None, BeforeValidator(lambda v: v if v is None else as_seconds(v)), Late] = (
        expected(_DURATION)
    )
    on_timeout: Annotated[Literal["fail", "approve", "reject"], Late] = expected(
        "fail, approve or reject", default="fail"
    )
    schema_: Annotated[dict[str, Any] | None, AfterValidator(_schema), Late] = expected(
        "a JSON schema (a mapping)", alias="schema"
    )
    approvers: Annotated[list[Annotated[str, Late]] | None, Late] = expected("a list of names")

    @classmethod
    def accepted(cls) -> tuple[str, ...]:
        return ("prompt", "timeout", "on_timeout", "schema", "approvers")

    @classmethod
    def requirements(cls, params: Mapping[str, Any]) -> list[ParamIssue]:
        return _required(params, "prompt", "prompt: Send the report to ${inputs.customer}?")
