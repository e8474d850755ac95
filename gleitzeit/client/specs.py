"""Turn what the client's methods receive into validated workflow specs.

Every method of the client runs as a durable workflow: ``chat`` and ``chat_messages`` as a one-task
``llm/chat`` pipeline, ``execute_task`` as a pipeline of that one task, ``execute_python_script`` as a
one-task ``python/execute`` pipeline. The chat path builds its spec directly (it is on the hot path;
its parameters are still checked against the method's schema); the others go through the loader, so
bad input gets the same located problems as a YAML file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from gleitzeit.client.defaults import DEFAULT_CHAT_MODEL
from gleitzeit.contracts.spec import TaskSpec, WorkflowSpec
from gleitzeit.core.errors import Problem, ValidationError
from gleitzeit.core.models import Task
from gleitzeit.dsl.params import check_parameters
from gleitzeit.workflows.dag import LOCAL_ACTIVITY_KEY

__all__ = [
    "CHAT_TASK_ID",
    "DEFAULT_CHAT_MODEL",
    "SCRIPT_TASK_ID",
    "ScriptOutputsDir",
    "chat_messages_for",
    "chat_spec",
    "load_spec",
    "script_spec",
    "task_spec",
]

CHAT_TASK_ID = "chat"
SCRIPT_TASK_ID = "script"
# execute_python_script's outputs_dir: a directory, None for the script's own, False for none.
ScriptOutputsDir = str | os.PathLike[str] | Literal[False] | None


def chat_messages_for(prompt: str, system: str | None = None) -> list[dict[str, str]]:
    if not isinstance(prompt, str):
        raise ValidationError(f"prompt must be a string, not {type(prompt).__name__}")
    messages = [{"role": "system", "content": system}] if system else []
    messages.append({"role": "user", "content": prompt})
    return messages


def _check_messages(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise ValidationError("messages must be a non-empty list of {'role': ..., 'content': ...} dicts")
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or "role" not in m or "content" not in m:
            raise ValidationError(
                f"messages[{i}] must be a dict with 'role' and 'content' (got {m!r:.80})",
                problems=[Problem(f"messages[{i}] needs 'role' and 'content'", key=f"messages[{i}]")],
            )
    return [dict(m) for m in messages]


def chat_spec(messages: Any, model: str, options: Mapping[str, Any]) -> WorkflowSpec:
    """A one-task ``llm/chat`` pipeline; unknown or ill-typed options raise ValidationError."""
    params: dict[str, Any] = {"model": model, "messages": _check_messages(messages)}
    params.update({k: v for k, v in options.items() if v is not None})
    issues = check_parameters("llm/chat", params)
    if issues:
        raise ValidationError(
            problems=[
                Problem(
                    i.message, task=CHAT_TASK_ID, key=".".join(map(str, i.path)), hint=i.hint, code=i.code
                )
                for i in issues
            ]
        )
    return WorkflowSpec(
        name="chat",
        # One task: a local activity saves two server round trips and costs no durability (a crash
        # re-runs the chat either way).
        tasks=[
            TaskSpec(
                id=CHAT_TASK_ID, method="llm/chat", parameters=params, metadata={LOCAL_ACTIVITY_KEY: True}
            )
        ],
        base_dir=os.getcwd(),
    )


def load_spec(
    source: str | os.PathLike[str] | Mapping[str, Any] | WorkflowSpec, *, base_dir: str | None = None
) -> WorkflowSpec:
    """A file path, YAML text or dict as a validated spec, with the batch form expanded."""
    from gleitzeit.dsl import expand_batch, load_workflow

    if isinstance(source, WorkflowSpec):
        spec = source
    elif isinstance(source, Mapping | str | os.PathLike):
        spec = load_workflow(source, base_dir=base_dir)
    else:
        raise ValidationError(
            f"a workflow must be a file path, YAML text or a dict, not {type(source).__name__}",
            problems=[Problem("unsupported workflow type", code="wrong-type", hint="pass a path or a dict")],
        )
    return expand_batch(spec) if spec.batch is not None else spec


def task_spec(task: Task | Mapping[str, Any], *, base_dir: str | None = None) -> tuple[WorkflowSpec, str]:
    """A one-task pipeline for ``execute_task``; returns the spec and the task's id."""
    if isinstance(task, Task):
        raw = task.model_dump(exclude_none=True, exclude_defaults=True)
        raw["method"] = task.method
    elif isinstance(task, Mapping):
        raw = dict(task)
    else:
        raise ValidationError(f"a task must be a Task or a dict, not {type(task).__name__}")
    raw.pop("dependencies", None)  # one task alone has nothing to wait for
    if not raw.get("id") and not raw.get("name"):
        raw["id"] = "task"
    spec = load_spec({"name": f"task {raw.get('id') or raw.get('name')}", "tasks": [raw]}, base_dir=base_dir)
    return spec, spec.tasks[0].id


def script_spec(
    script: str | os.PathLike[str],
    args: Mapping[str, Any] | None,
    timeout: float,
    outputs_dir: ScriptOutputsDir = None,
) -> WorkflowSpec:
    """A one-task ``python/execute`` pipeline running ``script`` with ``args`` as its JSON context.

    ``outputs_dir`` is the directory the script may write (its working directory): None means the
    script's own directory (what the reference's examples expect: ``open("report.json", "w")`` lands
    next to the script), False none at all (a fully read-only sandbox), a path that directory
    (relative to the current directory).
    """
    if args is not None and not isinstance(args, Mapping):
        raise ValidationError(f"args must be a dict (the script's JSON context), not {type(args).__name__}")
    path = Path(script).expanduser().resolve()
    parameters: dict[str, Any] = {"file": str(path), "context": dict(args or {}), "timeout": timeout}
    if outputs_dir is None:
        parameters["outputs_dir"] = str(path.parent)
    elif outputs_dir is not False:
        parameters["outputs_dir"] = str(Path(outputs_dir).expanduser().resolve())
    # The script's directory is a file root of its own when none are configured (see core/files.py).
    spec, _ = task_spec(
        {"id": SCRIPT_TASK_ID, "method": "python/execute", "parameters": parameters},
        base_dir=str(path.parent),
    )
    return spec
