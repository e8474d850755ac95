"""One task as written (or the batch template): its keys checked and folded into a ``RawTask``.

Ids: a task may give ``id``, ``name`` or both; references and dependencies may use either. When only
``name`` is given the id is derived from it (``derive_id``): lower case, every run of characters other
than letters, digits, ``_`` and ``-`` becomes one ``-``, ``-`` trimmed at both ends (``"Analyze
Image"`` -> ``analyze-image``, ``generate_numbers`` stays); an empty result becomes ``task-<n>`` (n is
the task's 1-based position), and a derived id already taken gets ``-2``, ``-3``... appended. Ids
and names hold no control characters (a NUL in an id validated, then failed the run).

Why one module of ~420 lines: the keys a task takes are checked in one place, top to bottom in the
order a task is written, with the one wording of each problem; the batch template shares
``parse_common``; ``foreach`` (``dsl.foreach``), parameters (``dsl.params``) and references
(``dsl.linking``) have modules of their own.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import pydantic

from gleitzeit.contracts.spec import PRIORITY_RANKS, RetrySpec
from gleitzeit.core.errors import ValidationError
from gleitzeit.core.files import control_character
from gleitzeit.core.units import DURATION_FORMS, parse_duration
from gleitzeit.dsl import conditions
from gleitzeit.dsl.foreach import parse_foreach
from gleitzeit.dsl.methods import METHODS, canonical_method, method_info
from gleitzeit.dsl.params import check_parameters
from gleitzeit.dsl.positions import Path
from gleitzeit.dsl.report import Reporter, key_of
from gleitzeit.dsl.suggest import did_you_mean

__all__ = ["MAX_ID_LENGTH", "TASK_KEYS", "RawTask", "derive_id", "parse_common", "parse_task", "valid_id"]

# Temporal refuses ids over 1,000 characters (a task id is its activity id, a workflow id is made
# from `id`); no one reads an id of 200.
MAX_ID_LENGTH = 200

TASK_KEYS = (
    "id",
    "name",
    "method",
    "protocol",
    "parameters",
    "params",
    "dependencies",
    "priority",
    "timeout",
    "retry",
    "retry_config",
    "metadata",
    "when",
    "on_error",
    "foreach",
    "max_concurrent",
)
_RETRY_KEYS = ("max_attempts", "backoff", "backoff_strategy", "base_delay", "max_delay", "jitter")
# The original Gleitzeit's numeric priorities.
_NUMERIC_PRIORITY = {1: "high", 2: "normal", 3: "low"}
_PROTOCOL_FAMILIES = sorted({m.family for m in METHODS.values()})
# Reference syntax, and control characters (see gleitzeit.core.files.control_character).
_BAD_ID_CHARS = re.compile(r"[.\[\]{}$\x00-\x1f\x7f-\x9f]")
_ALL_METHOD_NAMES = sorted({n for m in METHODS.values() for n in (m.name, *m.aliases)})


def derive_id(name: str, index: int) -> str:
    slug = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-")
    return slug or f"task-{index + 1}"


def valid_id(task_id: str) -> bool:
    return (
        bool(task_id)
        and len(task_id) <= MAX_ID_LENGTH
        and task_id == task_id.strip()
        and not _BAD_ID_CHARS.search(task_id)
    )


@dataclass
class RawTask:
    """A task after its own keys are checked, before ids and references are linked."""

    index: int
    path: Path
    id: str | None
    name: str | None
    method: str | None  # canonical, None when missing or unknown
    parameters: dict[str, Any]
    params_key: str  # "parameters" or "params", as written (for locating problems)
    dependencies: list[tuple[str, Path]] = field(default_factory=list)
    priority: int = PRIORITY_RANKS["normal"]
    timeout: float | None = None
    retry: RetrySpec | None = None
    when: str | None = None
    on_error: str = "fail"
    foreach: list[Any] | str | None = None  # an inline list or one "${...}" reference
    loops: bool = False  # 'foreach' was written (even if invalid): ${item} belongs here
    max_concurrent: int | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    line: int | None = None

    @property
    def label(self) -> str | None:
        return self.id or self.name


def _type_error(r: Reporter, path: Path, label: str | None, what: str, hint: str) -> None:
    r.add(
        "wrong-type",
        f"'{path[-1]}' must be {what}",
        path,
        task=label,
        key=key_of(path[2:]) or None,
        hint=hint,
    )


def parse_common(
    raw: dict[str, Any], path: Path, r: Reporter, label: str | None, default_protocol: Any, task: RawTask
) -> None:
    """The keys a task and a batch template share: method, protocol, priority, timeout, retry, ..."""

    def key(k: str) -> str:
        return key_of((*path[2:], k)) if len(path) > 2 else k

    protocol = raw.get("protocol", default_protocol)
    method = raw.get("method")
    if method is None:
        r.add(
            "missing-method",
            "the task has no 'method'",
            path,
            task=label,
            key="method",
            hint=f"add 'method: llm/chat' (or one of {', '.join(METHODS)})",
        )
    elif not isinstance(method, str):
        _type_error(r, (*path, "method"), label, "a string", "write e.g. 'method: llm/chat'")
    else:
        canonical = canonical_method(method.strip(), protocol if isinstance(protocol, str) else None)
        if canonical is None:
            r.add(
                "unknown-method",
                f"unknown method '{method}'",
                (*path, "method"),
                task=label,
                key=key("method"),
                hint=did_you_mean(method, _ALL_METHOD_NAMES, otherwise=f"use one of {', '.join(METHODS)}"),
            )
        task.method = canonical
    if protocol is not None:
        ppath = (*path, "protocol") if "protocol" in raw else ("protocol",)
        family = protocol.split("/")[0] if isinstance(protocol, str) else None
        if family not in _PROTOCOL_FAMILIES:
            r.add(
                "unknown-protocol",
                f"unknown protocol {protocol!r}",
                ppath,
                task=label,
                key="protocol",
                hint="use llm/v1, python/v1 or mcp/v1, or leave 'protocol' out (the method implies it)",
            )
        elif task.method is not None and method_info(task.method).family != family:
            r.add(
                "protocol-mismatch",
                f"protocol '{protocol}' does not match method '{task.method}'",
                ppath,
                task=label,
                key="protocol",
                hint=f"use 'protocol: {method_info(task.method).family}/v1' or remove 'protocol'",
            )

    if "priority" in raw:
        p = raw["priority"]
        word = _NUMERIC_PRIORITY.get(p) if isinstance(p, int) and not isinstance(p, bool) else None
        if isinstance(p, str):
            word = _NUMERIC_PRIORITY.get(int(p)) if p.strip().isdigit() else p.strip().lower()
        if word in PRIORITY_RANKS:
            task.priority = PRIORITY_RANKS[word]
        else:
            r.add(
                "invalid-value",
                f"invalid priority {p!r}",
                (*path, "priority"),
                task=label,
                key=key("priority"),
                hint="use low, normal, high or urgent (or 1 = high, 2 = normal, 3 = low)",
            )
    if "timeout" in raw and raw["timeout"] is not None:
        t = raw["timeout"]
        try:
            task.timeout = parse_duration(t)
        except ValueError:
            r.add(
                "invalid-value",
                f"'timeout' must be a number of seconds above 0 or a duration, not {t!r}",
                (*path, "timeout"),
                task=label,
                key=key("timeout"),
                hint=f"write {DURATION_FORMS}, e.g. 'timeout: 60' or 'timeout: 5m'",
            )
    retry_key = "retry" if "retry" in raw else "retry_config"
    if raw.get(retry_key) is not None:
        task.retry = _parse_retry(raw[retry_key], (*path, retry_key), r, label)
    if "on_error" in raw:
        if raw["on_error"] in ("fail", "continue"):
            task.on_error = raw["on_error"]
        else:
            r.add(
                "invalid-value",
                f"'on_error' must be fail or continue, not {raw['on_error']!r}",
                (*path, "on_error"),
                task=label,
                key=key("on_error"),
                hint="'fail' stops the workflow, 'continue' lets dependents run without this result",
            )
    if raw.get("metadata") is not None:
        if isinstance(raw["metadata"], dict):
            task.metadata = dict(raw["metadata"])
        else:
            _type_error(
                r, (*path, "metadata"), label, "a mapping", "write 'metadata:' then 'key: value' lines"
            )


def _parse_retry(raw: Any, path: Path, r: Reporter, label: str | None) -> RetrySpec | None:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = {"max_attempts": raw}
    if not isinstance(raw, dict):
        r.add(
            "wrong-type",
            "'retry' must be a mapping",
            path,
            task=label,
            key="retry",
            hint="write 'retry: {max_attempts: 3, backoff: exponential}'",
        )
        return None
    data = {}
    bad = False
    for k, v in raw.items():
        if k not in _RETRY_KEYS:
            r.add(
                "unknown-key",
                f"unknown retry key '{k}'",
                (*path, k),
                task=label,
                key=f"retry.{k}",
                at="key",
                hint=did_you_mean(
                    str(k),
                    _RETRY_KEYS,
                    otherwise=f"retry takes: {', '.join(_RETRY_KEYS[:1] + _RETRY_KEYS[2:])}",
                ),
            )
            continue
        if k in ("base_delay", "max_delay") and v is not None:
            try:
                v = parse_duration(v)
            except ValueError as exc:
                r.add(
                    "invalid-value",
                    f"retry.{k}: {exc}",
                    (*path, k),
                    task=label,
                    key=f"retry.{k}",
                    hint=f"write {DURATION_FORMS}, e.g. '{k}: 2s'",
                )
                bad = True
                continue
        data["backoff" if k == "backoff_strategy" else k] = v
    if bad:
        return None
    try:
        return RetrySpec.model_validate(data)
    except pydantic.ValidationError as exc:
        for err in exc.errors():
            field_name = str(err["loc"][0]) if err["loc"] else "retry"
            src = "backoff_strategy" if field_name == "backoff" and "backoff_strategy" in raw else field_name
            r.add(
                "invalid-value",
                f"retry.{src}: {err['msg']}",
                (*path, src),
                task=label,
                key=f"retry.{src}",
                hint="max_attempts >= 1, backoff exponential|linear|fixed, delays above 0 (seconds or 1s, 5m ...)",
            )
        return None


def parse_task(raw: Any, index: int, r: Reporter, default_protocol: Any) -> RawTask | None:
    """Check one entry of ``tasks:``; problems go to ``r``."""
    path: Path = ("tasks", index)
    if not isinstance(raw, dict):
        r.add(
            "wrong-type",
            f"task {index + 1} is not a mapping",
            path,
            key=f"tasks[{index}]",
            hint="each task starts with '- id: ...' followed by its keys",
        )
        return None
    tid, name = raw.get("id"), raw.get("name")
    for k, v in (("id", tid), ("name", name)):
        if v is not None and not isinstance(v, str):
            if isinstance(v, int | float) and not isinstance(v, bool):
                continue  # `id: 1` is read as the text "1"
            _type_error(r, (*path, k), None, "a string", f'quote it: {k}: "{v}"')
    tid = str(tid) if isinstance(tid, str | int | float) and not isinstance(tid, bool) else None
    name = str(name) if isinstance(name, str | int | float) and not isinstance(name, bool) else None
    label = tid or name
    if name is not None and control_character(name):
        r.add(
            "bad-id",
            f"task name {name!r} holds the control character {control_character(name)}",
            (*path, "name"),
            task=label,
            key="name",
            hint="remove it (a name is shown in progress, logs and the web UI)",
        )
    if tid is None and name is None:
        r.add(
            "missing-id",
            f"task {index + 1} has neither 'id' nor 'name'",
            path,
            key=f"tasks[{index}]",
            hint="add 'id: short-name' so other tasks can refer to it",
        )
    if tid is not None and not valid_id(tid):
        r.add(
            "bad-id",
            f"task id '{tid[:40]}...' is {len(tid)} characters long"
            if len(tid) > MAX_ID_LENGTH
            else f"task id {tid!r} cannot be used in references",
            (*path, "id"),
            task=label,
            key="id",
            hint=f"use letters, digits, '-' and '_', at most {MAX_ID_LENGTH} characters, "
            f"e.g. '{derive_id(tid, index)[:MAX_ID_LENGTH]}'",
        )
    if tid == "inputs" or (tid is None and name == "inputs"):
        r.add(
            "bad-id",
            "'inputs' is reserved for ${inputs.name}",
            (*path, "id" if tid else "name"),
            task=label,
            key="id",
            hint="rename the task",
        )
    for k in raw:
        if k not in TASK_KEYS:
            r.add(
                "unknown-key",
                f"unknown task key '{k}'",
                (*path, k),
                task=label,
                key=str(k),
                at="key",
                hint=did_you_mean(str(k), TASK_KEYS, otherwise="method parameters go under 'parameters:'"),
            )
    params_key = "parameters"
    params: Any = {}
    if "parameters" in raw and "params" in raw:
        r.add(
            "both-params",
            "both 'params' and 'parameters' are given",
            (*path, "params"),
            task=label,
            key="params",
            at="key",
            hint="they are the same thing: merge them into one 'parameters:' block",
        )
    elif "params" in raw:
        params_key = "params"
    params = raw.get(params_key)
    if params is None:
        params = {}
    if not isinstance(params, dict):
        _type_error(r, (*path, params_key), label, "a mapping", "write the parameters as 'key: value' lines")
        params = {}
    task = RawTask(index, path, tid, name, None, {}, params_key, line=r.line_of(path))
    parse_common(raw, path, r, label, default_protocol, task)
    if task.method is not None:
        for issue in check_parameters(task.method, params):
            ipath = (*path, params_key, *issue.path)
            r.add(
                issue.code,
                issue.message,
                ipath,
                task=label,
                key=key_of(("parameters", *issue.path)),
                hint=issue.hint,
                at=issue.at,
            )
    task.parameters = params  # normalised by the builder, after references and files are checked
    deps = raw.get("dependencies")
    if isinstance(deps, str):
        task.dependencies = [(deps, (*path, "dependencies"))]
    elif isinstance(deps, list):
        for i, d in enumerate(deps):
            if isinstance(d, str | int) and not isinstance(d, bool):
                task.dependencies.append((str(d), (*path, "dependencies", i)))
            else:
                r.add(
                    "wrong-type",
                    f"dependency {d!r} is not a task id",
                    (*path, "dependencies", i),
                    task=label,
                    key=f"dependencies[{i}]",
                    hint="list task ids or names: dependencies: [fetch, parse]",
                )
    elif deps is not None:
        _type_error(r, (*path, "dependencies"), label, "a list of task ids", "write 'dependencies: [a, b]'")
    task.loops, task.foreach, task.max_concurrent = parse_foreach(raw, path, r, label)
    if task.method == "human/approval" and "foreach" in raw:
        # An approval is answered by its task id; items would need ids nobody types.
        r.add(
            "invalid-value",
            "a human/approval task cannot run once per item (foreach)",
            (*path, "foreach"),
            task=label,
            key="foreach",
            at="key",
            hint="ask once for the whole list: put ${...} of the list in the prompt",
        )
    when = raw.get("when")
    if isinstance(when, bool):
        when = "true" if when else "false"
    if when is not None:
        if not isinstance(when, str):
            _type_error(
                r, (*path, "when"), label, "a condition (text)", "write e.g. \"${t.response} == 'yes'\""
            )
        else:
            try:
                conditions.check(when)
                task.when = when
            except ValidationError as exc:
                for p in exc.problems:
                    r.add(p.code, p.message, (*path, "when"), task=label, key="when", hint=p.hint)
    return task
