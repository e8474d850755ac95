"""Which tasks a resumed run carries over and which it runs again (pure, no Temporal).

A task's *fingerprint* is a short hash of what decides its result: its method, parameters,
``when``, ``foreach``, dependencies, the values of the inputs it reads, and the content of every
file it names (a script's ``file``, ``file_path``, ``files``, images). Every run stores its tasks'
fingerprints in its input at start (``DagInput.fingerprints``), so a later resume compares the
definition that produced a result with the one it would run now, even when the file was edited
after the earlier run. Task references (``${a.response}``) stay unresolved in the hash: a changed
upstream task re-runs its dependents anyway.

The plan: a task runs again when it did not complete in the earlier run, when ``--from`` names it,
when its fingerprint changed (or it is new), when it reads an input given again with ``-i``, or when
it depends on a task that runs again (transitively). Every other task is carried.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gleitzeit.contracts.spec import TaskSpec, WorkflowSpec
from gleitzeit.core.errors import Problem, ValidationError
from gleitzeit.core.files import find_file
from gleitzeit.core.models import ResumePlan
from gleitzeit.dsl.params import file_parameters
from gleitzeit.dsl.references import find_references
from gleitzeit.dsl.suggest import did_you_mean

__all__ = [
    "RESUMED_FROM_MEMO",
    "CarryPlan",
    "inputs_read",
    "plan_carry",
    "task_fingerprint",
    "task_fingerprints",
]

RESUMED_FROM_MEMO = "GleitzeitResumedFrom"
_CHUNK = 1 << 20


def inputs_read(task: TaskSpec) -> list[str]:
    """The names of the workflow inputs ``task`` reads (``${inputs.x}``), in order of appearance."""
    names: list[str] = []
    for ref in find_references([task.parameters, task.when or "", task.foreach]):
        if ref.is_input and ref.path and str(ref.path[0]) not in names:
            names.append(str(ref.path[0]))
    return names


def _file_hash(raw: str, base_dir: str | None) -> str:
    try:
        path: Path = find_file(raw, base_dir)
        digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()
    except Exception:  # missing or unreadable: the task will say so when it runs
        return "missing"


def task_fingerprint(
    task: TaskSpec, inputs: Mapping[str, Any], base_dir: str | None, *, files: bool = True
) -> str:
    """A 16-hex-digit hash of what decides ``task``'s result (see the module docstring)."""
    body: dict[str, Any] = {
        "method": task.method,
        "parameters": task.parameters,
        "when": task.when,
        "foreach": task.foreach,
        "dependencies": sorted(task.dependencies),
        "inputs": {name: inputs.get(name) for name in inputs_read(task)},
    }
    if files:
        body["files"] = {
            raw: _file_hash(raw, base_dir) for _, raw in file_parameters(task.method, task.parameters)
        }
    text = json.dumps(body, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def task_fingerprints(spec: WorkflowSpec, inputs: Mapping[str, Any], *, files: bool = True) -> dict[str, str]:
    """Every task's fingerprint (task id -> hash), in file order."""
    return {t.id: task_fingerprint(t, inputs, spec.base_dir, files=files) for t in spec.tasks}


@dataclass
class CarryPlan:
    """The plan and the carried results themselves (``plan`` is what users see)."""

    plan: ResumePlan
    carried: dict[str, Any] = field(default_factory=dict)


def _check_from(spec: WorkflowSpec, from_tasks: Iterable[str]) -> list[str]:
    ids = [t.id for t in spec.tasks]
    by_name = {t.name: t.id for t in spec.tasks if t.name}
    found: list[str] = []
    problems: list[Problem] = []
    for name in from_tasks:
        task_id = name if name in ids else by_name.get(name)
        if task_id is None:
            problems.append(
                Problem(
                    f"--from names no task: '{name}'",
                    file=spec.source_file,
                    task=name,
                    code="unknown-task",
                    hint=did_you_mean(name, ids, otherwise=f"the tasks are: {', '.join(ids[:20])}"),
                )
            )
        elif task_id not in found:
            found.append(task_id)
    if problems:
        raise ValidationError(problems=problems)
    return found


def plan_carry(
    earlier_id: str,
    spec: WorkflowSpec,
    inputs: Mapping[str, Any],
    completed: Mapping[str, Any],
    *,
    states: Mapping[str, str] | None = None,
    from_tasks: Iterable[str] = (),
    overridden: Iterable[str] = (),
    old_fingerprints: Mapping[str, str],
    new_fingerprints: Mapping[str, str],
) -> CarryPlan:
    """Decide for every task of ``spec`` whether it is carried (with its result from ``completed``)
    or runs again, and why. ``from_tasks`` naming no task raises ``ValidationError`` (did-you-mean)."""
    starts = _check_from(spec, from_tasks)
    overridden = list(overridden)
    states = states or {}
    reasons: dict[str, str] = {}
    for task in spec.tasks:
        if task.id in starts:
            reasons[task.id] = "named by --from"
        elif task.id not in completed:
            state = states.get(task.id)
            reasons[task.id] = f"{state} in {earlier_id}" if state else f"did not complete in {earlier_id}"
        elif task.id not in old_fingerprints:
            reasons[task.id] = "new task"
        elif old_fingerprints[task.id] != new_fingerprints.get(task.id):
            reasons[task.id] = "its definition changed (method, parameters, inputs or files)"
        else:
            read = [name for name in inputs_read(task) if name in overridden]
            if read:
                reasons[task.id] = f"reads input '{read[0]}' given with -i"
    # Dependents of every task that runs, transitively (breadth first from the roots).
    dependents: dict[str, list[str]] = {t.id: [] for t in spec.tasks}
    for task in spec.tasks:
        for dep in task.dependencies:
            dependents.setdefault(dep, []).append(task.id)
    queue = list(reasons)
    while queue:
        current = queue.pop(0)
        for child in dependents.get(current, []):
            if child not in reasons:
                reasons[child] = f"depends on '{current}'"
                queue.append(child)
    carried = {t.id: completed[t.id] for t in spec.tasks if t.id not in reasons}
    plan = ResumePlan(
        workflow_id=earlier_id,
        carried=list(carried),
        to_run=[t.id for t in spec.tasks if t.id in reasons],
        reasons={t.id: reasons[t.id] for t in spec.tasks if t.id in reasons},
    )
    return CarryPlan(plan, carried)
