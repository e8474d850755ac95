"""Turn a parsed workflow document into a ``WorkflowSpec``, reporting every problem on the way."""

from __future__ import annotations

import os
from pathlib import Path as FsPath
from typing import Any

import pydantic

from gleitzeit.config import get_settings
from gleitzeit.contracts.spec import TaskSpec, WorkflowSpec
from gleitzeit.core.errors import ConfigurationError
from gleitzeit.core.files import OutsideRoots, confine, file_roots_for
from gleitzeit.core.units import DURATION_FORMS, parse_duration
from gleitzeit.dsl.batch import parse_batch
from gleitzeit.dsl.inputs import parse_inputs
from gleitzeit.dsl.linking import TaskLookup, check_value_references, link_tasks
from gleitzeit.dsl.methods import method_info
from gleitzeit.dsl.params import MCP_SERVERS_KEY, file_parameters, mount_parameters, normalise_parameters
from gleitzeit.dsl.params.llm import PROVIDERS
from gleitzeit.dsl.report import Reporter, key_of
from gleitzeit.dsl.suggest import did_you_mean
from gleitzeit.dsl.tasks import RawTask, parse_task
from gleitzeit.mcp_tools.servers import parse_servers

__all__ = ["TOP_KEYS", "build_spec"]

TOP_KEYS = (
    "name",
    "description",
    "id",
    "version",
    "tasks",
    "metadata",
    "timeout",
    "inputs",
    "outputs",
    "max_parallel",
    "type",
    "batch",
    "template",
    "providers",
    "protocol",
    "mcp",
    # written by most of the original Gleitzeit's examples; runs here always wait
    "wait_for_completion",
)
_KEPT_IN_METADATA = ("providers", "wait_for_completion")


def _mcp_servers(data: dict[str, Any], r: Reporter) -> list[dict[str, Any]]:
    """The pipeline's ``mcp: {servers: [...]}`` entries, checked; they travel with its MCP tasks."""
    raw = data.get("mcp")
    if raw is None:
        return []
    try:
        servers = parse_servers(raw, "mcp")
    except ConfigurationError as exc:
        r.add(
            "invalid-value",
            str(exc),
            ("mcp",),
            key="mcp",
            hint="each server needs a name and, for stdio, a command (see README: MCP tool tasks)",
        )
        return []
    # ``${VAR}`` in a server entry is an environment variable, expanded where the server starts:
    # written as a literal (``$${``) so the workflow does not take it for a reference to a task.
    return [_literal(s.model_dump(exclude_defaults=True)) for s in servers]


_PROVIDER_KEYS = ("base_url", "api_key_env")


def _providers(data: dict[str, Any], r: Reporter) -> tuple[str | None, dict[str, str]]:
    """The pipeline's ``providers: {default: openai, openai: {base_url, api_key_env}}`` block: the
    provider of llm/* tasks that name none, and the openai settings they inherit. The original's forms
    (a list, ``ollama_pool``) carry neither and stay in the metadata only."""
    raw = data.get("providers")
    if not isinstance(raw, dict):
        return None, {}
    default = raw.get("default")
    if default is not None and default not in PROVIDERS:
        r.add(
            "invalid-value",
            f"unknown provider {default!r}",
            ("providers", "default"),
            key="providers.default",
            hint=did_you_mean(str(default), PROVIDERS, otherwise="use ollama or openai"),
        )
        default = None
    entry = raw.get("openai")
    if entry is None:
        return default, {}
    if not isinstance(entry, dict):
        r.add(
            "wrong-type",
            "'providers.openai' must be a mapping",
            ("providers", "openai"),
            key="providers.openai",
            hint="write 'openai: {base_url: http://host:8080/v1, api_key_env: MY_KEY}'",
        )
        return default, {}
    settings: dict[str, str] = {}
    for k, v in entry.items():
        if k not in _PROVIDER_KEYS or not isinstance(v, str):
            r.add(
                "invalid-value" if k in _PROVIDER_KEYS else "unknown-key",
                f"'providers.openai.{k}' must be a string" if k in _PROVIDER_KEYS else f"unknown key '{k}'",
                ("providers", "openai", str(k)),
                key=f"providers.openai.{k}",
                hint=did_you_mean(str(k), _PROVIDER_KEYS, otherwise="use base_url and api_key_env"),
            )
            continue
        settings[k] = v
    return default, settings


def _apply_provider(params: dict[str, Any], default: str | None, openai: dict[str, str]) -> None:
    """An llm/* task's parameters with the pipeline's provider settings where it sets none."""
    if default is not None:
        params.setdefault("provider", default)
    if params.get("provider") == "openai":
        for k, v in openai.items():
            params.setdefault(k, v)


def _literal(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, list):
        return [_literal(v) for v in value]
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    return value


def _text(data: dict[str, Any], key: str, r: Reporter) -> str | None:
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)  # `version: 1.0`
    r.add("wrong-type", f"'{key}' must be text", (key,), key=key, hint=f'quote it: {key}: "..."')
    return None


def _positive(data: dict[str, Any], key: str, r: Reporter) -> int | None:
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool) and v > 0:
        return v
    r.add(
        "invalid-value",
        f"'{key}' must be a whole number of at least 1, not {v!r}",
        (key,),
        key=key,
        hint=f"write e.g. '{key}: 4'",
    )
    return None


def _duration(data: dict[str, Any], key: str, r: Reporter) -> float | None:
    v = data.get(key)
    if v is None:
        return None
    try:
        return parse_duration(v)
    except ValueError:
        r.add(
            "invalid-value",
            f"'{key}' must be a number of seconds above 0 or a duration, not {v!r}",
            (key,),
            key=key,
            hint=f"write {DURATION_FORMS}, e.g. '{key}: 1h'",
        )
        return None


def _check_files(task: RawTask, r: Reporter, base_dir: str) -> None:
    if task.method is None:
        return
    for sub, name in file_parameters(task.method, task.parameters):
        if os.path.isabs(name) or (FsPath(base_dir) / name).exists() or FsPath(name).exists():
            continue
        r.add(
            "file-not-found",
            f"file '{name}' does not exist",
            (*task.path, task.params_key, *sub),
            task=task.label,
            key=key_of(("parameters", *sub)),
            hint=f"paths are relative to the workflow's directory ({base_dir}); check the name",
        )


def _check_mounts(task: RawTask, r: Reporter, base_dir: str) -> None:
    """A script's ``outputs_dir`` and ``mounts`` must lie inside the file roots (the configured ones,
    else the workflow's directory and the current directory); a read-only mount must exist. A path
    that is a reference is checked by the executor once resolved."""
    if task.method is None:
        return
    declared = mount_parameters(task.method, task.parameters)
    if not declared:
        return
    roots = file_roots_for(get_settings().file_roots, base_dir)
    for sub, name, mode in declared:
        where = (*task.path, task.params_key, *sub)
        key = key_of(("parameters", *sub))
        what = "outputs_dir" if sub == ("outputs_dir",) else f"{mode} mount"
        try:
            full = confine(name, base_dir, roots, what=what)
        except OutsideRoots:
            r.add(
                "outside-file-roots",
                f"{what} '{name}' is outside the file roots the script may use",
                where,
                task=task.label,
                key=key,
                hint=f"give a path inside {', '.join(str(p) for p in roots)} (relative paths start at "
                "the workflow's directory), or add a root with GLEITZEIT_FILE_ROOTS",
            )
            continue
        if mode == "ro" and not full.exists():
            r.add(
                "file-not-found",
                f"mounted path '{name}' does not exist",
                where,
                task=task.label,
                key=key,
                hint=f"paths are relative to the workflow's directory ({base_dir}); check the name",
            )


def build_spec(data: Any, r: Reporter, *, source_file: str | None, base_dir: str) -> WorkflowSpec | None:
    """The normalised spec, or None when the document is too broken to build one (see ``r.problems``)."""
    if data is None:
        r.add("empty", "the workflow is empty", (), hint="start with 'name: ...' and a 'tasks:' list")
        return None
    if not isinstance(data, dict):
        r.add(
            "wrong-type",
            f"a workflow must be a mapping, not {type(data).__name__}",
            (),
            hint="start with 'name: ...' and a 'tasks:' list",
        )
        return None
    for k in data:
        if k not in TOP_KEYS:
            r.add(
                "unknown-key",
                f"unknown top-level key '{k}'",
                (k,),
                key=str(k),
                at="key",
                hint=did_you_mean(str(k), TOP_KEYS, otherwise=f"allowed keys: {', '.join(TOP_KEYS[:15])}"),
            )
    name, description = _text(data, "name", r), _text(data, "description", r)
    wf_id, version = _text(data, "id", r), _text(data, "version", r)
    timeout = _duration(data, "timeout", r)
    max_parallel = _positive(data, "max_parallel", r)
    metadata = data.get("metadata") or {}
    if not isinstance(metadata, dict):
        r.add(
            "wrong-type",
            "'metadata' must be a mapping",
            ("metadata",),
            key="metadata",
            hint="write 'metadata:' then 'key: value' lines",
        )
        metadata = {}
    metadata = dict(metadata)
    for k in _KEPT_IN_METADATA:
        if k in data:
            metadata[k] = data[k]
    protocol = data.get("protocol")
    inputs = parse_inputs(data.get("inputs"), r)

    wf_type = data.get("type")
    if wf_type not in (None, "batch", "workflow", "dag"):
        r.add(
            "invalid-value",
            f"unknown workflow type {wf_type!r}",
            ("type",),
            key="type",
            hint="leave 'type' out for a task list, or use 'type: batch' with 'batch:' and 'template:'",
        )
    raw_tasks: list[RawTask] = []
    batch = template = None
    lookup: TaskLookup | None = None
    if wf_type == "batch" or "batch" in data or "template" in data:
        if "tasks" in data:
            r.add(
                "unknown-key",
                "a batch workflow builds its tasks from 'template'",
                ("tasks",),
                key="tasks",
                at="key",
                hint="remove 'tasks:' (or remove 'batch:'/'template:' to list the tasks yourself)",
            )
        batch, template = parse_batch(data, r, base_dir, protocol)
        if template is not None and str(template.get("method", "")).startswith("llm/"):
            _apply_provider(template["parameters"], *_providers(data, r))
        if template is not None:
            template["parameters"], _ = check_value_references(
                template["parameters"], ("template",), r, "template", None, inputs, "a batch template"
            )
    else:
        tasks = data.get("tasks")
        if not isinstance(tasks, list) or not tasks:
            r.add(
                "no-tasks",
                "the workflow has no tasks" if tasks in (None, []) else "'tasks' must be a list",
                ("tasks",) if "tasks" in data else (),
                key="tasks",
                hint="add 'tasks:' with at least one '- id: ...' entry",
            )
            tasks = []
        for i, raw in enumerate(tasks):
            t = parse_task(raw, i, r, protocol)
            if t is not None:
                raw_tasks.append(t)
        lookup = link_tasks(raw_tasks, inputs, r)
        mcp_servers = _mcp_servers(data, r)
        provider, openai = _providers(data, r)
        for t in raw_tasks:
            _check_files(t, r, base_dir)
            _check_mounts(t, r, base_dir)
            if t.method is not None:
                t.parameters = normalise_parameters(t.method, t.parameters, t.label)
                if mcp_servers and method_info(t.method).family == "mcp":
                    t.parameters[MCP_SERVERS_KEY] = mcp_servers
                if method_info(t.method).family == "llm":
                    _apply_provider(t.parameters, provider, openai)
    outputs = data.get("outputs") or {}
    if not isinstance(outputs, dict):
        r.add(
            "wrong-type",
            "'outputs' must map names to references",
            ("outputs",),
            key="outputs",
            hint="write e.g. 'outputs: {summary: \"${summarize.response}\"}'",
        )
        outputs = {}
    elif outputs:
        outputs, _ = check_value_references(outputs, ("outputs",), r, None, lookup, inputs, "outputs")
    if r.problems:
        return None
    try:
        return WorkflowSpec(
            name=name or wf_id or (FsPath(source_file).stem if source_file else "workflow"),
            description=description or "",
            id=wf_id,
            version=version,
            inputs=inputs,
            outputs=outputs,
            max_parallel=max_parallel,
            timeout=timeout,
            metadata=metadata,
            batch=batch,
            template=template,
            source_file=source_file,
            base_dir=base_dir,
            tasks=[
                TaskSpec(
                    id=t.id or "",
                    name=t.name,
                    method=t.method or "",
                    parameters=t.parameters,
                    dependencies=[d for d, _ in t.dependencies],
                    priority=t.priority,
                    timeout=t.timeout,
                    retry=t.retry,
                    when=t.when,
                    on_error=t.on_error,  # type: ignore[arg-type]
                    foreach=t.foreach,
                    max_concurrent=t.max_concurrent,
                    metadata=t.metadata,
                    line=t.line,
                )
                for t in raw_tasks
            ],
        )
    except pydantic.ValidationError as exc:  # a safety net: the checks above should catch everything first
        for err in exc.errors():
            loc = tuple(err["loc"])
            r.add("invalid", f"{key_of(loc)}: {err['msg']}", loc, key=key_of(loc))
        return None
