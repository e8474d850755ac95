"""The batch form: one task per file matching ``batch: {directory, pattern}``, built from ``template``.

::

    type: batch
    batch: {directory: docs, pattern: "*.txt", max_concurrent: 4}
    template:
      method: llm/chat
      model: smollm2:135m            # keys other than the task keys below are parameters
      messages: [{role: user, content: Summarize this document.}]

Template keys ``method``, ``protocol``, ``priority``, ``timeout``, ``retry``, ``on_error`` and
``metadata`` mean what they mean on a task; a nested ``parameters:`` (or ``params:``) block and every
other key are the parameters. ``expand_batch`` lists the files (sorted by path; ``**/*.txt`` searches
subfolders; ``directory`` is relative to the workflow's ``base_dir``) and makes one task per file the
way the original Gleitzeit did: ``process-<file name with '.' as '-'>-<i>``, named ``Process <file>``,
with the file's absolute path in ``file_path`` (llm/chat, llm/generate), ``image_path`` (llm/vision)
or ``context.file_path`` (python/execute).
"""

from __future__ import annotations

import copy
import os
import re
from pathlib import Path as FsPath
from typing import Any

from gleitzeit.contracts.spec import BatchSpec, TaskSpec, WorkflowSpec
from gleitzeit.core.errors import Problem, ValidationError
from gleitzeit.core.files import find_directory
from gleitzeit.core.limits import MAX_PARALLEL_LIMIT
from gleitzeit.dsl.params import check_parameters, normalise_parameters
from gleitzeit.dsl.report import Reporter, key_of
from gleitzeit.dsl.suggest import did_you_mean
from gleitzeit.dsl.tasks import RawTask, parse_common

__all__ = ["BATCH_KEYS", "TEMPLATE_TASK_KEYS", "expand_batch", "file_key", "parse_batch"]

BATCH_KEYS = ("directory", "pattern", "max_concurrent")
TEMPLATE_TASK_KEYS = (
    "method",
    "protocol",
    "priority",
    "timeout",
    "retry",
    "retry_config",
    "on_error",
    "metadata",
)
_FILE_KEYS = {"llm/chat": "file_path", "llm/generate": "file_path", "llm/vision": "image_path"}


def file_key(method: str) -> str | None:
    """Which parameter receives each file's path (``context.file_path`` for python)."""
    if method == "python/execute":
        return "context.file_path"
    return _FILE_KEYS.get(method)


def parse_batch(
    data: dict[str, Any], r: Reporter, base_dir: str, default_protocol: Any
) -> tuple[BatchSpec | None, dict[str, Any] | None]:
    """Check the ``batch:`` and ``template:`` blocks; the BatchSpec and the normalised template."""
    raw = data.get("batch")
    batch: BatchSpec | None = None
    if not isinstance(raw, dict):
        r.add(
            "missing-key",
            "a batch workflow needs 'batch: {directory, pattern}'",
            ("batch",) if "batch" in data else ("type",),
            key="batch",
            hint="add 'batch:' with 'directory: docs' and 'pattern: \"*.txt\"'",
        )
    else:
        ok = True
        for k in raw:
            if k not in BATCH_KEYS:
                ok = False
                r.add(
                    "unknown-key",
                    f"unknown batch key '{k}'",
                    ("batch", k),
                    key=f"batch.{k}",
                    at="key",
                    hint=did_you_mean(
                        str(k), BATCH_KEYS, otherwise="batch takes directory, pattern, max_concurrent"
                    ),
                )
        directory, pattern, mc = raw.get("directory"), raw.get("pattern", "*"), raw.get("max_concurrent")
        if not isinstance(directory, str) or not directory:
            ok = False
            r.add(
                "missing-key",
                "'batch' needs a 'directory'",
                ("batch",),
                key="batch.directory",
                at="key",
                hint="add 'directory: docs' (relative to the workflow file)",
            )
        elif (found := find_directory(directory, base_dir)) is None:
            ok = False
            r.add(
                "file-not-found",
                f"batch directory '{directory}' does not exist",
                ("batch", "directory"),
                key="batch.directory",
                hint=f"create it or give a path relative to {base_dir} or the current directory",
            )
        elif not (FsPath(base_dir) / directory).is_dir():
            # Found only under the current directory (as the original resolved it): keep it absolute,
            # so the worker, whatever its own directory, lists the same files.
            directory = str(found.resolve())
        if not isinstance(pattern, str) or not pattern:
            ok = False
            r.add(
                "wrong-type",
                "'pattern' must be a glob like '*.txt'",
                ("batch", "pattern"),
                key="batch.pattern",
                hint='quote it: pattern: "*.txt" (use **/*.txt for subfolders)',
            )
        if mc is not None and (
            not isinstance(mc, int) or isinstance(mc, bool) or not 1 <= mc <= MAX_PARALLEL_LIMIT
        ):
            ok = False
            r.add(
                "invalid-value",
                f"'max_concurrent' must be a whole number from 1 to {MAX_PARALLEL_LIMIT}",
                ("batch", "max_concurrent"),
                key="batch.max_concurrent",
                hint="write e.g. 'max_concurrent: 4'",
            )
        if ok:
            batch = BatchSpec(directory=directory, pattern=pattern, max_concurrent=mc)  # type: ignore[arg-type]
    return batch, _parse_template(data.get("template"), r, default_protocol)


def _parse_template(raw: Any, r: Reporter, default_protocol: Any) -> dict[str, Any] | None:
    path = ("template",)
    if not isinstance(raw, dict):
        r.add(
            "missing-key",
            "a batch workflow needs a 'template' mapping (the task to run per file)",
            path if raw is not None else (),
            key="template",
            hint="add 'template:' with 'method: llm/chat', 'model: ...' and 'messages: ...'",
        )
        return None
    task = RawTask(0, path, "template", None, None, {}, "parameters")
    parse_common(raw, path, r, "template", default_protocol, task)
    nested_key = "parameters" if "parameters" in raw else "params"
    nested = raw.get(nested_key) or {}
    if not isinstance(nested, dict):
        r.add(
            "wrong-type",
            "'parameters' must be a mapping",
            (*path, nested_key),
            task="template",
            key=nested_key,
            hint="write the parameters as 'key: value' lines",
        )
        nested = {}
    params = dict(nested)
    for k, v in raw.items():
        if k in TEMPLATE_TASK_KEYS or k in ("parameters", "params"):
            continue
        if k in params:
            r.add(
                "conflicting-parameters",
                f"'{k}' is given both in the template and in its parameters",
                (*path, k),
                task="template",
                key=str(k),
                at="key",
                hint=f"keep one '{k}'",
            )
        params[k] = v
    if task.method is None:
        return None
    target = file_key(task.method)
    if target is None:
        r.add(
            "invalid-value",
            f"a batch template cannot use {task.method}",
            (*path, "method"),
            task="template",
            key="method",
            hint="use llm/chat, llm/generate, llm/vision or python/execute",
        )
        return None
    key = target.split(".")[-1]
    holder = params.get("context", {}) if target.startswith("context.") else params
    if isinstance(holder, dict) and key in holder:
        r.add(
            "conflicting-parameters",
            f"the batch sets '{target}' for each file",
            (*path, key),
            task="template",
            key=target,
            at="key",
            hint=f"remove '{key}' from the template",
        )
    if target.startswith("context.") and not isinstance(params.get("context", {}), dict):
        r.add(
            "wrong-type",
            "'context' of a batch template must be a mapping (the file path is added to it)",
            (*path, "context"),
            task="template",
            key="context",
            hint="write 'context:' then 'key: value' lines",
        )
    # Check as the expansion will see it: with the per-file parameter present.
    probe = dict(params)
    if not target.startswith("context."):
        probe[key] = "${file}"
    for issue in check_parameters(task.method, probe):
        ipath = (
            (*path, *issue.path)
            if issue.path and issue.path[0] not in nested
            else (*path, nested_key, *issue.path)
        )
        r.add(
            issue.code,
            issue.message,
            ipath,
            task="template",
            key=key_of(issue.path) or None,
            hint=issue.hint,
            at=issue.at,
        )
    return {
        "method": task.method,
        "parameters": normalise_parameters(task.method, params),
        "priority": task.priority,
        "timeout": task.timeout,
        "retry": task.retry.model_dump() if task.retry else None,
        "on_error": task.on_error,
        "metadata": task.metadata,
    }


def _task_id(file_name: str, i: int) -> str:
    return f"process-{re.sub(r'[^A-Za-z0-9_-]+', '-', file_name.replace('.', '-')).strip('-')}-{i}"


def expand_batch(spec: WorkflowSpec) -> WorkflowSpec:
    """The batch form as an ordinary workflow with one task per matching file (others unchanged)."""
    if spec.batch is None:
        return spec
    batch, template = spec.batch, spec.template or {}
    base = FsPath(spec.base_dir or os.getcwd())
    root = (base / batch.directory).resolve()
    if not root.is_dir():
        raise ValidationError(
            problems=[
                Problem(
                    f"batch directory '{batch.directory}' does not exist",
                    hint=f"create it or give a path relative to {base} or the current directory",
                    code="file-not-found",
                    file=spec.source_file,
                    key="batch.directory",
                )
            ]
        )
    files = sorted(
        (p for p in root.glob(batch.pattern) if p.is_file()), key=lambda p: p.relative_to(root).as_posix()
    )
    if not files:
        raise ValidationError(
            problems=[
                Problem(
                    f"no file in '{batch.directory}' matches '{batch.pattern}'",
                    code="batch-empty",
                    hint="check the pattern (it is case-sensitive; '**/*.txt' searches subfolders too)",
                    file=spec.source_file,
                    key="batch.pattern",
                )
            ]
        )
    method = template["method"]
    target = file_key(method) or "file_path"
    tasks = []
    for i, path in enumerate(files):
        params = copy.deepcopy(template.get("parameters", {}))
        if target == "context.file_path":
            params["context"] = {**(params.get("context") or {}), "file_path": str(path)}
        else:
            params[target] = str(path)
        tasks.append(
            TaskSpec(
                id=_task_id(path.name, i),
                name=f"Process {path.name}",
                method=method,
                parameters=params,
                priority=template.get("priority", 1),
                timeout=template.get("timeout"),
                retry=template.get("retry"),
                on_error=template.get("on_error", "fail"),
                metadata={
                    **copy.deepcopy(template.get("metadata") or {}),
                    "batch_file": str(path),
                    "batch_index": i,
                },
            )
        )
    metadata = {
        **spec.metadata,
        "batch": {"directory": batch.directory, "pattern": batch.pattern, "file_count": len(files)},
    }
    return spec.model_copy(
        update={
            "tasks": tasks,
            "batch": None,
            "template": None,
            "metadata": metadata,
            "max_parallel": spec.max_parallel or batch.max_concurrent,
        }
    )
