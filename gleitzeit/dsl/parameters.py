"""Parameter schemas of the task methods, and their checks at load time.

A value that is a string holding a ``${...}`` reference is only known at run time, so it skips the
type check (so does a list item that is one). ``normalise_parameters`` folds the conveniences the
loader accepts into the one shape the activities get: for ``llm/chat`` a ``prompt`` becomes one user
message, for ``python/execute`` ``file_path`` becomes ``file``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from gleitzeit.dsl.suggest import did_you_mean

__all__ = ["PARAMETERS", "ParamIssue", "check_parameters", "file_parameters", "normalise_parameters"]

Check = Callable[[Any], bool]


@dataclass(frozen=True)
class ParamType:
    check: Check
    expected: str  # what the message says was expected


@dataclass(frozen=True)
class ParamIssue:
    """One problem with a parameter; ``path`` is relative to the task's parameters."""

    path: tuple[str | int, ...]
    code: str
    message: str
    hint: str | None = None
    at: str = "value"  # point at the key or the value


def _is_ref(v: Any) -> bool:
    return isinstance(v, str) and "${" in v


def _num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _str_list(v: Any) -> bool:
    return isinstance(v, list) and all(isinstance(x, str) for x in v)


_MEMORY = re.compile(r"^\d+(\.\d+)?\s*([kmgt]i?b?|b)?$", re.IGNORECASE)

STR = ParamType(lambda v: isinstance(v, str), "a string")
INT = ParamType(_int, "an integer")
NUM = ParamType(_num, "a number")
POS_NUM = ParamType(lambda v: _num(v) and v > 0, "a number above 0")
BOOL = ParamType(lambda v: isinstance(v, bool), "true or false")
DICT = ParamType(lambda v: isinstance(v, dict), "a mapping (key: value)")
STR_LIST = ParamType(_str_list, "a list of strings")
STR_OR_LIST = ParamType(lambda v: isinstance(v, str) or _str_list(v), "a string or a list of strings")
FORMAT = ParamType(lambda v: v == "json" or isinstance(v, dict), "'json' or a JSON schema (a mapping)")
KEEP_ALIVE = ParamType(lambda v: isinstance(v, str) or _num(v), "a duration like '5m' or seconds")
THINK = ParamType(
    lambda v: isinstance(v, bool) or v in ("low", "medium", "high"), "true, false, low, medium or high"
)
ARGS = ParamType(lambda v: isinstance(v, dict) or _str_list(v), "a mapping or a list of strings")
ENV = ParamType(
    lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
    "a mapping of names to strings (quote numbers)",
)
EXECUTOR = ParamType(lambda v: v in ("auto", "docker", "local"), "one of auto, docker, local")
MEMORY = ParamType(
    lambda v: (_int(v) and v > 0) or (isinstance(v, str) and bool(_MEMORY.match(v.strip()))),
    "bytes as an integer or a size like '256m'",
)
MESSAGES = ParamType(lambda v: isinstance(v, list), "a list of {role, content} messages")

_OPTIONS: dict[str, ParamType] = {
    "system": STR,
    "temperature": NUM,
    "max_tokens": INT,
    "top_p": NUM,
    "top_k": INT,
    "seed": INT,
    "stop": STR_OR_LIST,
    "num_ctx": INT,
    "num_predict": INT,
    "repeat_penalty": NUM,
    "presence_penalty": NUM,
    "frequency_penalty": NUM,
    "min_p": NUM,
    "format": FORMAT,
    "keep_alive": KEEP_ALIVE,
    "think": THINK,
    "stream": BOOL,
    "timeout": POS_NUM,
}

PARAMETERS: dict[str, dict[str, ParamType]] = {
    "llm/chat": {
        "model": STR,
        "messages": MESSAGES,
        "prompt": STR,
        **_OPTIONS,
        "file_path": STR,
        "files": STR_LIST,
    },
    "llm/generate": {"model": STR, "prompt": STR, **_OPTIONS, "file_path": STR, "images": STR_LIST},
    "llm/vision": {
        "model": STR,
        "messages": MESSAGES,
        "prompt": STR,
        **_OPTIONS,
        "image_path": STR,
        "image_paths": STR_LIST,
        "images": STR_LIST,
        "file_path": STR,
        "files": STR_LIST,
    },
    "llm/embed": {
        "model": STR,
        "input": STR_OR_LIST,
        "text": STR,
        "prompt": STR,
        "truncate": BOOL,
        "keep_alive": KEEP_ALIVE,
        "timeout": POS_NUM,
    },
    "python/execute": {
        "file": STR,
        "file_path": STR,
        "code": STR,
        "context": DICT,
        "args": ARGS,
        "env": ENV,
        "timeout": POS_NUM,
        "executor": EXECUTOR,
        "network": BOOL,
        "memory": MEMORY,
        "cpus": POS_NUM,
        "image": STR,
    },
}

_ROLES = ("system", "user", "assistant", "tool")
_MESSAGE_KEYS = ("role", "content", "images", "tool_calls", "name")


def _check_messages(messages: list[Any]) -> list[ParamIssue]:
    issues: list[ParamIssue] = []
    for i, msg in enumerate(messages):
        where: tuple[str | int, ...] = ("messages", i)
        if _is_ref(msg):
            continue
        if not isinstance(msg, dict):
            issues.append(
                ParamIssue(
                    where,
                    "parameter-type",
                    "a message must be a mapping with role and content",
                    "write '- role: user' and 'content: ...'",
                )
            )
            continue
        for key in msg:
            if key not in _MESSAGE_KEYS:
                issues.append(
                    ParamIssue(
                        (*where, str(key)),
                        "unknown-parameter",
                        f"unknown message key '{key}'",
                        did_you_mean(str(key), _MESSAGE_KEYS, otherwise="use role and content"),
                        "key",
                    )
                )
        role = msg.get("role")
        if role is None:
            issues.append(
                ParamIssue(
                    where,
                    "missing-parameter",
                    "the message has no 'role'",
                    "add 'role: user' (or system / assistant)",
                )
            )
        elif not _is_ref(role) and role not in _ROLES:
            issues.append(
                ParamIssue(
                    (*where, "role"),
                    "parameter-type",
                    f"unknown role {role!r}",
                    did_you_mean(str(role), _ROLES, otherwise="use system, user or assistant"),
                )
            )
        if "content" not in msg:
            issues.append(
                ParamIssue(
                    where,
                    "missing-parameter",
                    "the message has no 'content'",
                    "add 'content: ...' with the text",
                )
            )
        elif not isinstance(msg["content"], str) and msg["content"] is not None:
            issues.append(
                ParamIssue(
                    (*where, "content"),
                    "parameter-type",
                    f"content must be a string, not {type(msg['content']).__name__}",
                    "quote the text, or reference a value with ${task.response}",
                )
            )
        if "images" in msg and not _is_ref(msg["images"]) and not _str_list(msg["images"]):
            issues.append(
                ParamIssue(
                    (*where, "images"), "parameter-type", "images must be a list of strings (paths or base64)"
                )
            )
    return issues


def _type_name(v: Any) -> str:
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


def _present(params: Mapping[str, Any], *keys: str) -> list[str]:
    return [k for k in keys if k in params and params[k] is not None]


def _exactly_one(params: Mapping[str, Any], keys: tuple[str, ...], what: str, hint: str) -> list[ParamIssue]:
    given = _present(params, *keys)
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


def check_parameters(method: str, params: Mapping[str, Any]) -> list[ParamIssue]:
    """Every problem with ``params`` for canonical ``method`` (unknown keys, types, requirements)."""
    schema = PARAMETERS.get(method)
    if schema is None:
        return []
    issues: list[ParamIssue] = []
    for key, value in params.items():
        key_s = str(key)
        if key_s not in schema:
            issues.append(
                ParamIssue(
                    (key_s,),
                    "unknown-parameter",
                    f"unknown parameter '{key_s}' for {method}",
                    did_you_mean(key_s, schema, otherwise=f"{method} takes: {', '.join(schema)}"),
                    "key",
                )
            )
            continue
        if value is None or _is_ref(value):
            continue
        ptype = schema[key_s]
        if isinstance(value, list) and ptype in (STR_LIST, STR_OR_LIST, ARGS):
            # Items that are references are checked at run time.
            value = [x for x in value if not _is_ref(x)]
        if ptype is ENV and isinstance(value, dict):
            issues.extend(
                ParamIssue(
                    ("env", str(k)),
                    "parameter-type",
                    f"environment variable '{k}' must be a string",
                    f'quote it: {k}: "{v}"',
                )
                for k, v in value.items()
                if not isinstance(v, str) and not _is_ref(v)
            )
            continue
        if not ptype.check(value):
            issues.append(
                ParamIssue(
                    (key_s,),
                    "parameter-type",
                    f"'{key_s}' must be {ptype.expected}, not {_type_name(params[key_s])}",
                    f"write {key_s} as {ptype.expected}",
                )
            )
        elif ptype is MESSAGES:
            issues.extend(_check_messages(value))
    if method.startswith("llm/") and not _present(params, "model"):
        issues.append(
            ParamIssue(
                (),
                "missing-parameter",
                "missing parameter 'model'",
                "add 'model: smollm2:135m' (or another model the LLM server has)",
                "key",
            )
        )
    if method in ("llm/chat", "llm/vision"):
        given = _present(params, "messages", "prompt")
        if not given and method == "llm/chat":
            issues.append(
                ParamIssue(
                    (),
                    "missing-parameter",
                    "missing parameter 'messages'",
                    "add 'messages: [{role: user, content: ...}]' or a 'prompt'",
                    "key",
                )
            )
        elif len(given) == 2:
            issues.append(
                ParamIssue(
                    ("prompt",),
                    "conflicting-parameters",
                    "give either 'messages' or 'prompt'",
                    "move the prompt into messages as the last user message",
                    "key",
                )
            )
    if method == "llm/vision" and not _present(params, "image_path", "image_paths", "images"):
        issues.append(
            ParamIssue(
                (),
                "missing-parameter",
                "llm/vision needs an image",
                "add 'image_path: picture.png' (or image_paths / images)",
                "key",
            )
        )
    if method == "llm/generate" and not _present(params, "prompt"):
        issues.append(
            ParamIssue(
                (),
                "missing-parameter",
                "missing parameter 'prompt'",
                "add 'prompt: ...' with the text to complete",
                "key",
            )
        )
    if method == "llm/embed":
        issues.extend(
            _exactly_one(
                params,
                ("input", "text", "prompt"),
                "the text to embed",
                "add 'input: ...' (a string or a list of strings)",
            )
        )
    if method == "python/execute":
        issues.extend(
            _exactly_one(
                params,
                ("file", "file_path", "code"),
                "the script",
                "add 'file: scripts/step.py' (relative to the workflow) or inline 'code'",
            )
        )
    return issues


def normalise_parameters(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The parameters in the shape the activities receive (conveniences folded)."""
    out = dict(params)
    if method == "llm/chat" and "prompt" in out and "messages" not in out:
        out["messages"] = [{"role": "user", "content": out.pop("prompt")}]
    if method == "python/execute" and "file_path" in out and "file" not in out:
        out["file"] = out.pop("file_path")
    return out


def file_parameters(method: str, params: Mapping[str, Any]) -> list[tuple[tuple[str | int, ...], str]]:
    """(path in params, file name) of every plain (reference-free) file the task reads from disk."""
    single = ("file", "file_path", "image_path")
    many = ("files", "image_paths")
    found: list[tuple[tuple[str | int, ...], str]] = []
    for key in single:
        v = params.get(key)
        if isinstance(v, str) and v and not _is_ref(v):
            found.append(((key,), v))
    for key in many:
        v = params.get(key)
        if isinstance(v, list):
            found.extend(
                ((key, i), x) for i, x in enumerate(v) if isinstance(x, str) and x and not _is_ref(x)
            )
    return found
