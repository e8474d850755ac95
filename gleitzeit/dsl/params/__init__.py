"""Method parameters: one pydantic model per method, the one definition of what each method takes.

``PARAMS`` maps a canonical method to its model. The loader checks a task's parameters with
``check_parameters`` (references skip their checks, see :mod:`gleitzeit.dsl.params.base`); the LLM
activities and the python executor validate the resolved parameters with the same model. A new
method is one model here plus one activity.

``normalise_parameters`` folds the conveniences the loader accepts into the one shape the activities
get: for ``llm/chat`` a ``prompt`` becomes one user message, for ``python/execute`` ``file_path``
becomes ``file``, and a ``timeout`` written as a duration (``5m``) becomes seconds.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from gleitzeit.core.units import parse_duration
from gleitzeit.dsl.methods import mcp_tool_name
from gleitzeit.dsl.params.base import MethodParams, ParamIssue, is_ref, runtime_problem
from gleitzeit.dsl.params.llm import (
    OLLAMA_OPTION_KEYS,
    ChatLikeParams,
    ChatParams,
    EmbedParams,
    GenerateParams,
    LlmParams,
    Message,
    TextParams,
    VisionParams,
)
from gleitzeit.dsl.params.mcp import MCP_SERVERS_KEY, McpListParams, McpToolParams, tool_arguments
from gleitzeit.dsl.params.python import MountParam, PythonParams, declared_paths
from gleitzeit.dsl.params.waits import ApprovalParams, SleepParams, UntilParams, check_schema, parse_at

__all__ = [
    "COMPAT_IGNORED",
    "ApprovalParams",
    "SleepParams",
    "UntilParams",
    "OLLAMA_OPTION_KEYS",
    "PARAMS",
    "ChatLikeParams",
    "ChatParams",
    "EmbedParams",
    "GenerateParams",
    "LlmParams",
    "MCP_SERVERS_KEY",
    "McpListParams",
    "McpToolParams",
    "Message",
    "MethodParams",
    "MountParam",
    "ParamIssue",
    "PythonParams",
    "TextParams",
    "VisionParams",
    "accepted_keys",
    "check_parameters",
    "check_schema",
    "file_parameters",
    "mount_parameters",
    "normalise_parameters",
    "params_model",
    "parse_at",
    "runtime_problem",
    "tool_arguments",
    "validate_parameters",
]

PARAMS: dict[str, type[MethodParams]] = {
    **{
        m.method: m
        for m in (
            ChatParams,
            GenerateParams,
            VisionParams,
            EmbedParams,
            PythonParams,
            SleepParams,
            UntilParams,
            ApprovalParams,
        )
    },
    "mcp/tools.list": McpListParams,
    "mcp/servers.list": McpListParams,
}


def params_model(method: str) -> type[MethodParams] | None:
    """The parameter model of a canonical method (every ``mcp/tool.NAME`` shares one)."""
    return McpToolParams if mcp_tool_name(method) else PARAMS.get(method)


log = logging.getLogger("gleitzeit.dsl")

# Parameters the original Gleitzeit's files use that have no effect here: accepted (its files load
# unchanged), dropped by the loader with a warning saying why. Key -> why it does nothing.
# (load_balancing_strategy, instance_tags and require_gpu route a task over several Ollama hosts.)
COMPAT_IGNORED: dict[str, str] = {
    "batch_mode": "the original declared it but never acted on it; use a batch workflow or foreach",
}
# The original's python execution modes -> our executor (others, e.g. 'datascience', keep ours).
_EXECUTION_MODES = {"local": "local", "sandboxed": "docker", "docker": "docker", "container": "docker"}
_PYTHON_RENAMES = (("memory_limit", "memory"), ("cpu_limit", "cpus"))

# Parameters naming a file the task reads from disk (one path, or a list of them).
_SINGLE_FILE = ("file", "file_path", "image_path")
_MANY_FILES = ("files", "image_paths")


def accepted_keys(method: str) -> tuple[str, ...]:
    """Every parameter ``method`` takes (empty for an unknown method)."""
    model = params_model(method)
    return model.accepted() if model is not None else ()


def check_parameters(method: str, params: Mapping[str, Any]) -> list[ParamIssue]:
    """Every problem with ``params`` for canonical ``method`` (unknown keys, types, requirements)."""
    model = params_model(method)
    if model is None:
        return []
    return model.load_issues({str(k): v for k, v in params.items()})


def normalise_parameters(method: str, params: Mapping[str, Any], task: str | None = None) -> dict[str, Any]:
    """The parameters in the shape the activities receive (conveniences folded); ``task`` names the
    task in the warnings about the original's parameters that do nothing here."""
    who = f"task '{task}' ({method})" if task else method
    out = dict(params)
    if method == "llm/chat" and "prompt" in out and "messages" not in out:
        out["messages"] = [{"role": "user", "content": out.pop("prompt")}]
    if method == "python/execute" and "file_path" in out and "file" not in out:
        out["file"] = out.pop("file_path")
    if method == "python/execute":
        for old, new in _PYTHON_RENAMES:
            if old in out:
                value = out.pop(old)
                out.setdefault(new, value)
        mode = out.pop("execution_mode", None)
        if isinstance(mode, str) and mode in _EXECUTION_MODES:
            out.setdefault("executor", _EXECUTION_MODES[mode])
        elif mode is not None:
            log.warning("%s: execution_mode %r has no equivalent here; ignored", who, mode)
    if method in PARAMS and method.startswith("llm/"):
        for key in [k for k in out if k in COMPAT_IGNORED]:
            out.pop(key)
            log.warning("%s: parameter '%s' is accepted and has no effect: %s", who, key, COMPAT_IGNORED[key])
    timeout = out.get("timeout")
    if isinstance(timeout, str) and not is_ref(timeout):
        try:
            out["timeout"] = parse_duration(timeout)
        except ValueError:
            pass  # reported by check_parameters
    return out


def file_parameters(method: str, params: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """(path in params, file name) of every plain (reference-free) file the task reads from disk."""
    del method  # the same keys name files for every method that reads any
    found: list[tuple[tuple[str | int, ...], str]] = []
    for key in _SINGLE_FILE:
        v = params.get(key)
        if isinstance(v, str) and v and not is_ref(v):
            found.append(((key,), v))
    for key in _MANY_FILES:
        v = params.get(key)
        if isinstance(v, list):
            found.extend(((key, i), x) for i, x in enumerate(v) if isinstance(x, str) and x and not is_ref(x))
    return found


def mount_parameters(method: str, params: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str, str]]:
    """(path in params, path, ``ro``/``rw``) of every plain host path a task has mounted into its sandbox
    (``outputs_dir`` and ``mounts`` of ``python/execute``); these must lie inside the file roots."""
    return declared_paths(params) if method == "python/execute" else []


def validate_parameters(method: str, params: Mapping[str, Any]) -> MethodParams:
    """The resolved parameters of a run, checked strictly; pydantic.ValidationError when they are not."""
    model = params_model(method)
    if model is None:
        raise KeyError(method)
    return model.model_validate(dict(params))
