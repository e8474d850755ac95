"""Parameters of ``python/execute``: the script (``file``, its alias ``file_path``, or inline ``code``),
its JSON ``context``, ``args``, ``env`` and the sandbox's limits.

The executor builds its ``ScriptRequest`` from this model (gleitzeit.executors.request), so what
``gleitzeit validate`` accepts is what runs. ``memory`` is a size (gleitzeit.core.units: ``256m``,
``256Mi``, ``1g``...), at least the 6 MiB a container needs and at most ``Settings.max_script_memory``;
``cpus`` at most ``Settings.max_script_cpus``; ``timeout`` a duration.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, WrapValidator
from pydantic_core import PydanticCustomError

from gleitzeit.config import get_settings
from gleitzeit.core.files import control_character
from gleitzeit.dsl.params.base import (
    Late,
    MethodParams,
    ParamIssue,
    as_seconds,
    as_size,
    exactly_one,
    expected,
    is_load,
    is_ref,
)

__all__ = ["DEFAULT_MEMORY", "MIN_MEMORY_BYTES", "PythonParams"]

DEFAULT_MEMORY = "256m"
# Docker refuses memory limits under 6 MiB.
MIN_MEMORY_BYTES = 6 * 1024 * 1024
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _memory(v: Any) -> int | None:
    if v is None:
        return None
    size = as_size(v)
    if size < MIN_MEMORY_BYTES:
        raise PydanticCustomError(
            "size", "{error}", {"error": f"{v!r} is below the 6m minimum a container needs"}
        )
    most = get_settings().max_script_memory
    if size > most:
        raise PydanticCustomError(
            "size",
            "{error}",
            {"error": f"{v!r} is above the {most:,}-byte maximum (GLEITZEIT_MAX_SCRIPT_MEMORY)"},
        )
    return size


def _cpus(v: float | None) -> float | None:
    most = get_settings().max_script_cpus
    if v is not None and v > most:
        raise PydanticCustomError(
            "cpus",
            "{error}",
            {"error": f"{v!r} is above the maximum of {most:g} (GLEITZEIT_MAX_SCRIPT_CPUS)"},
        )
    return v


def _args(v: Any, info: ValidationInfo) -> Any:
    """A mapping (merged into the context) or a list of command-line arguments (strings or numbers)."""
    if v is None or isinstance(v, dict):
        return v
    if not isinstance(v, list | tuple):
        raise PydanticCustomError(
            "args",
            "must be a mapping (merged into the context) or a list of strings, got {got}",
            {"got": type(v).__name__},
        )
    for i, item in enumerate(v):
        if isinstance(item, dict | list | tuple) or item is None:
            if is_load(info) and is_ref(item):
                continue
            raise PydanticCustomError(
                "args_item",
                "command-line arguments must be strings or numbers",
                {"key": f"args[{i}]", "hint": "pass structured data as a mapping in 'args' or 'context'"},
            )
    return list(v)


def _env_value(v: Any, handler: Any, info: ValidationInfo) -> Any:
    # At run time a reference may have resolved to a number or a boolean: it is passed as text.
    if is_load(info) or isinstance(v, str):
        return handler(v)
    if isinstance(v, dict | list) or v is None:
        raise PydanticCustomError("env_value", "values must be strings", {})
    return str(v).lower() if isinstance(v, bool) else str(v)


def _env_names(v: dict[str, str] | None) -> dict[str, str] | None:
    for name in v or {}:
        if not _ENV_NAME.match(name):
            raise PydanticCustomError(
                "env_name", "{error}", {"error": f"'{name}' is not a valid environment variable name"}
            )
    return v


def _path(v: Any) -> Any:
    if isinstance(v, str) and not v.strip():
        raise PydanticCustomError("path", "{error}", {"error": "must be a path, not an empty string"})
    if isinstance(v, str) and control_character(v):
        raise PydanticCustomError("path", "{error}", {"error": f"a path cannot hold {control_character(v)}"})
    return v


class PythonParams(MethodParams):
    method = "python/execute"

    file: Annotated[str | None, AfterValidator(_path), Late] = expected("a string")
    file_path: Annotated[str | None, AfterValidator(_path), Late] = expected("a string")
    code: Annotated[str | None, Late] = expected("a string")
    context: Annotated[dict[str, Any] | None, Late] = expected("a mapping (key: value)")
    args: Annotated[Any, BeforeValidator(_args), Late] = expected("a mapping or a list of strings")
    env: Annotated[
        dict[str, Annotated[str, WrapValidator(_env_value), Late]] | None, AfterValidator(_env_names), Late
    ] = expected("a mapping of names to strings (quote numbers)")
    timeout: Annotated[float | None, BeforeValidator(lambda v: v if v is None else as_seconds(v)), Late] = (
        expected("a number of seconds above 0 or a duration like 90s, 5m or PT1H")
    )
    executor: Annotated[Literal["auto", "docker", "local"] | None, Late] = expected(
        "one of auto, docker, local"
    )
    network: Annotated[bool | None, Late] = expected("true or false")
    memory: Annotated[int | None, BeforeValidator(_memory), Late] = expected(
        "bytes as a whole number or a size like '256m' (at least 6m)"
    )
    cpus: Annotated[float | None, Field(gt=0), AfterValidator(_cpus), Late] = expected("a number above 0")
    image: Annotated[str | None, Late] = expected("a string")

    @classmethod
    def requirements(cls, params: Mapping[str, Any]) -> list[ParamIssue]:
        return exactly_one(
            params,
            ("file", "file_path", "code"),
            "the script",
            "add 'file: scripts/step.py' (relative to the workflow) or inline 'code'",
        )

    @classmethod
    def nested_issues(cls, key: str, value: Any, errors: list[Any]) -> list[ParamIssue] | None:
        if key != "env" or not isinstance(value, dict):
            return None
        names = {e["loc"][1] for e in errors if len(e["loc"]) > 1}
        if not names:
            return None
        return [
            ParamIssue(
                ("env", str(k)),
                "parameter-type",
                f"environment variable '{k}' must be a string",
                f'quote it: {k}: "{v}"',
            )
            for k, v in value.items()
            if k in names
        ]

    @property
    def script_file(self) -> str | None:
        return self.file if self.file is not None else self.file_path
