"""Parameters of ``python/execute``: the script (``file``, its alias ``file_path``, or inline ``code``),
its JSON ``context``, ``args``, ``env``, the sandbox's limits, and the host paths it may use:
``outputs_dir`` (a directory it writes, read-write) and ``mounts`` (more paths, read-only unless ``rw``).

The executor builds its ``ScriptRequest`` from this model (gleitzeit.executors.request), so what
``gleitzeit validate`` accepts is what runs. ``memory`` is a size (gleitzeit.core.units: ``256m``,
``256Mi``, ``1g``...), at least the 6 MiB a container needs and at most ``Settings.max_script_memory``;
``cpus`` at most ``Settings.max_script_cpus``; ``timeout`` a duration. ``outputs_dir``
and each mount path are relative to the workflow's directory, like ``file``; a mount is ``"path"``,
``"path:ro"``, ``"path:rw"`` or ``{path: ..., mode: ro|rw}``. Whether they lie inside the file roots
is checked by the loader (plain paths) and by the executor (every path, resolved).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    WrapValidator,
)
from pydantic_core import PydanticCustomError

from gleitzeit.core.files import control_character
from gleitzeit.core.limits import limits
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

__all__ = [
    "DEFAULT_MEMORY",
    "MIN_MEMORY_BYTES",
    "MountParam",
    "PythonParams",
    "declared_paths",
    "split_mount",
]

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
    most = limits().max_script_memory
    if size > most:
        raise PydanticCustomError(
            "size",
            "{error}",
            {"error": f"{v!r} is above the {most:,}-byte maximum (GLEITZEIT_MAX_SCRIPT_MEMORY)"},
        )
    return size


def _cpus(v: float | None) -> float | None:
    most = limits().max_script_cpus
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


def split_mount(v: str) -> tuple[str, str]:
    """``"data:rw"`` -> ``("data", "rw")``; without a ``:ro``/``:rw`` suffix the mode is ``ro``."""
    head, sep, mode = v.rpartition(":")
    if sep and head and mode in ("ro", "rw"):
        return head, mode
    return v, "ro"


def _mount(v: Any) -> Any:
    if isinstance(v, str):
        path, mode = split_mount(v)
        return {"path": path, "mode": mode}
    return v


class MountParam(BaseModel):
    """One host path the script sees at the same absolute path: read-only (``ro``) or read-write (``rw``)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, defer_build=True)

    path: Annotated[str, AfterValidator(_path), Late]
    mode: Literal["ro", "rw"] = "ro"


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
    outputs_dir: Annotated[str | None, AfterValidator(_path), Late] = expected(
        "a directory path (relative to the workflow's directory)"
    )
    mounts: Annotated[list[Annotated[MountParam, BeforeValidator(_mount)]] | None, Late] = expected(
        "a list of paths ('data', 'results:rw') or mappings {path: ..., mode: ro|rw}"
    )
    # The original's names (its multi-instance example): the loader folds them into executor, memory
    # and cpus (gleitzeit.dsl.params.normalise_parameters).
    execution_mode: Annotated[str | None, Late] = expected("a string (local, sandboxed, docker)")
    memory_limit: Annotated[int | None, BeforeValidator(_memory), Late] = expected(
        "bytes as a whole number or a size like '256m' (at least 6m)"
    )
    cpu_limit: Annotated[float | None, Field(gt=0), Late] = expected("a number above 0")

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
        if key == "mounts" and isinstance(value, list):
            return _mount_issues(value, errors)
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


def _mount_issues(value: list[Any], errors: list[Any]) -> list[ParamIssue] | None:
    """One issue per bad item of ``mounts``, naming it (``mounts[1]``) and the forms it may take."""
    indexes = sorted({e["loc"][1] for e in errors if len(e["loc"]) > 1 and isinstance(e["loc"][1], int)})
    if not indexes:
        return None
    return [
        ParamIssue(
            ("mounts", i),
            "parameter-type",
            f"mounts[{i}] must be a path ('data', 'results:rw') or a mapping {{path: ..., mode: ro|rw}}, "
            f"not {value[i]!r}",
            "write 'path' (read-only), 'path:rw' (read-write) or {path: ..., mode: rw}",
        )
        for i in indexes
    ]


def declared_paths(params: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str, str]]:
    """(path in params, host path as written, ``ro``/``rw``) of every plain (reference-free) path of
    ``outputs_dir`` and ``mounts``, read from the raw parameters (what the loader checks)."""
    found: list[tuple[tuple[str | int, ...], str, str]] = []
    out = params.get("outputs_dir")
    if isinstance(out, str) and out.strip() and not is_ref(out):
        found.append((("outputs_dir",), out, "rw"))
    mounts = params.get("mounts")
    for i, item in enumerate(mounts if isinstance(mounts, list) else []):
        if isinstance(item, str):
            path, mode = split_mount(item)
            sub: tuple[str | int, ...] = ("mounts", i)
        elif isinstance(item, dict) and isinstance(item.get("path"), str):
            path, mode = item["path"], item.get("mode", "ro")
            sub = ("mounts", i, "path")
        else:
            continue
        if path.strip() and not is_ref(path) and mode in ("ro", "rw"):
            found.append((sub, path, mode))
    return found
