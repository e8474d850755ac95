"""Turn a parsed workflow document into a ``WorkflowSpec``, reporting every problem on the way."""

from __future__ import annotations

import os
from pathlib import Path as FsPath
from typing import Any

import pydantic

from gleitzeit.contracts.spec import TaskSpec, WorkflowSpec
from gleitzeit.core.files import OutsideRoots, confine, control_character, file_roots_for
from gleitzeit.core.limits import MAX_PARALLEL_LIMIT, limits
from gleitzeit.core.units import DURATION_FORMS, parse_duration
from gleitzeit.dsl.batch import parse_batch
from gleitzeit.dsl.inputs import parse_inputs
from gleitzeit.dsl.linking import TaskLookup, check_value_references, link_tasks
from gleitzeit.dsl.methods import method_info
from gleitzeit.dsl.params import MCP_SERVERS_KEY, file_parameters, mount_parameters, normalise_parameters
from gleitzeit.dsl.report import Reporter, key_of
from gleitzeit.dsl.suggest import did_you_mean
from gleitzeit.dsl.tasks import MAX_ID_LENGTH, RawTask, parse_task
from gleitzeit.dsl.toplevel import apply_pool, apply_provider, mcp_servers_block, pool_block, providers_block

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


def _text(data: dict[str, Any], key: str, r: Reporter) -> str | None:
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, str):
        if key == "id" and len(v) > MAX_ID_LENGTH:
            r.add(
                "bad-name",
                f"'id' is {len(v)} characters long; at most {MAX_ID_LENGTH}",
                (key,),
                key=key,
                hint="shorten it (the run's id is made from it)",
            )
            return None
        bad = control_character(v) if key in ("name", "id") else None
        if bad is not None:  # the run's id is built from these
            r.add(
                "bad-name",
                f"'{key}' holds the control character {bad}",
                (key,),
                key=key,
                hint="remove it (the workflow id is made from the name and id)",
            )
            return None
        return v
    if isinstance(v, int | float) and not isinstance(v, bool):
        return str(v)  # `version: 1.0`
    r.add("wrong-type", f"'{key}' must be text", (key,), key=key, hint=f'quote it: {key}: "..."')
    return None


def _positive(data: dict[str, Any], key: str, r: Reporter, most: int) -> int | None:
    v = data.get(key)
    if v is None:
        return None
    if isinstance(v, int) and not isinstance(v, bool) and 0 < v <= most:
        return v
    r.add(
        "invalid-value",
        f"'{key}' must be a whole number of at least 1, not {v!r}"
        if not isinstance(v, int) or isinstance(v, bool) or v <= 0
        else f"'{key}' must be at most {most}, not {v!r}",
        (key,),
        key=key,
        hint=f"write e.g. '{key}: 4' (at most {most})",
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
        bad = control_character(name)
        if bad is not None:
            r.add(
                "invalid-value",
                f"the path {name!r} holds the control character {bad}",
                (*task.path, task.params_key, *sub),
                task=task.label,
                key=key_of(("parameters", *sub)),
                hint="remove it: no file name holds one",
            )
            continue
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
    roots = file_roots_for(limits().file_roots, base_dir)
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
    max_parallel = _positive(data, "max_parallel", r, MAX_PARALLEL_LIMIT)
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
            apply_provider(template["parameters"], *providers_block(data, r))
            apply_pool(template["parameters"], pool_block(data, r))
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
        mcp_servers = mcp_servers_block(data, r)
        provider, openai = providers_block(data, r)
        pool = pool_block(data, r)
        for t in raw_tasks:
            _check_files(t, r, base_dir)
            _check_mounts(t, r, base_dir)
            if t.method is not None:
                t.parameters = normalise_parameters(t.method, t.parameters, t.label)
                if mcp_servers and method_info(t.method).family == "mcp":
                    t.parameters[MCP_SERVERS_KEY] = mcp_servers
                if method_info(t.method).family == "llm":
                    apply_provider(t.parameters, provider, openai)
                    apply_pool(t.parameters, pool)
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
