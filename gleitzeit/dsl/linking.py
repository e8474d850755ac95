"""Link the tasks: assign ids, map names to ids, check references and dependencies, find cycles.

After linking, every reference in parameters, ``when`` and ``outputs`` names its task by id, and each
task's dependencies are its explicit ones (as ids) followed by those its references imply,
deduplicated, in first-mention order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gleitzeit.contracts.spec import InputSpec
from gleitzeit.core.errors import ValidationError
from gleitzeit.dsl.graph import find_cycles
from gleitzeit.dsl.methods import is_method, method_info
from gleitzeit.dsl.positions import Path
from gleitzeit.dsl.references import (
    ITEM_INDEX_ROOT,
    LOOP_ROOTS,
    Reference,
    answer_text_alias,
    parse_template,
    rewrite_references,
)
from gleitzeit.dsl.report import Reporter, key_of
from gleitzeit.dsl.suggest import did_you_mean
from gleitzeit.dsl.tasks import RawTask, derive_id

__all__ = ["FOREACH_FIELDS", "TaskLookup", "assign_ids", "check_value_references", "link_tasks"]

# Result fields whose values are structured, so a path may continue below them.
_STRUCTURED = {"parsed", "embeddings", "embedding", "images_analyzed", "data"}  # data: an approval's
# A foreach task's result (gleitzeit.workflows.foreach): each item's primary value, each item's whole
# result, the failed items, the number of items.
FOREACH_FIELDS = ("result", "results", "errors", "count")


def assign_ids(tasks: list[RawTask], r: Reporter) -> None:
    """Explicit ids first, then ids derived from names; duplicate ids and names are problems."""
    seen_ids: dict[str, RawTask] = {}
    seen_names: dict[str, RawTask] = {}
    for t in tasks:
        if t.id is not None:
            if t.id in seen_ids:
                r.add(
                    "duplicate-id",
                    f"task id '{t.id}' is used twice (first at line {seen_ids[t.id].line})",
                    (*t.path, "id"),
                    task=t.id,
                    key="id",
                    hint=f"remove one of the two tasks named '{t.id}' or rename it",
                )
            else:
                seen_ids[t.id] = t
        if t.name is not None:
            if t.name in seen_names:
                r.add(
                    "duplicate-id",
                    f"task name '{t.name}' is used twice (first at line {seen_names[t.name].line})",
                    (*t.path, "name"),
                    task=t.label,
                    key="name",
                    hint=f"remove one of the two tasks named '{t.name}' or rename it",
                )
            else:
                seen_names[t.name] = t
    taken = set(seen_ids)
    for t in tasks:
        if t.id is None and t.name is not None:
            base = derive_id(t.name, t.index)
            candidate, n = base, 1
            while candidate in taken:
                n += 1
                candidate = f"{base}-{n}"
            t.id = candidate
            taken.add(candidate)


class TaskLookup:
    def __init__(self, tasks: list[RawTask]) -> None:
        self.by_key: dict[str, RawTask] = {}
        for t in tasks:  # ids win over names
            if t.name is not None:
                self.by_key.setdefault(t.name, t)
        for t in tasks:
            if t.id is not None:
                self.by_key[t.id] = t
        self.dotted = sorted((k for k in self.by_key if any(c in k for c in ".[")), key=len, reverse=True)

    def find(self, ref: Reference) -> tuple[RawTask | None, Reference]:
        if ref.root in self.by_key:
            return self.by_key[ref.root], ref
        inner = ref.raw[2:-1].strip()
        for key in self.dotted:  # a name with a dot in it: `${v1.2 draft.response}`
            if inner == key or inner.startswith((key + ".", key + "[")):
                rest = parse_template("${x" + inner[len(key) :] + "}")[0]
                assert isinstance(rest, Reference)
                return self.by_key[key], Reference(key, rest.path, ref.raw)
        return None, ref


def _known(lookup: TaskLookup) -> str:
    ids = sorted({t.id for t in lookup.by_key.values() if t.id})
    return f"tasks in this workflow: {', '.join(ids[:10])}" if ids else "this workflow has no tasks yet"


def _check_field(task: RawTask, ref: Reference) -> tuple[str, str] | None:
    """(message, hint) when ``ref`` names a field the task's result cannot have."""
    if task.method is None or not ref.path:
        return None
    if task.foreach is not None:
        head = ref.path[0]
        if isinstance(head, int) or head in FOREACH_FIELDS:
            return None
        return (
            f"'{task.id}' runs once per item (foreach), so its result is a list, not one {task.method} result",
            f"use ${{{task.id}}} (each item's {method_info(task.method).primary_field}, in item order), "
            f"${{{task.id}.results[0].{head}}} (one item's field) or ${{{task.id}.errors}}",
        )
    info = method_info(task.method)
    head = ref.path[0]
    if isinstance(head, int):
        head, rest = info.primary_field, ref.path
    else:
        rest = ref.path[1:]
        if head not in info.result_fields:
            return (
                f"{task.method} results have no field '{head}'",
                did_you_mean(head, info.result_fields, otherwise=None)
                or f"use one of: {', '.join(info.result_fields)}",
            )
        if head == "result" and info.family not in ("python", "mcp"):
            head = info.primary_field
    if rest and info.family not in ("python", "mcp") and head not in _STRUCTURED:
        return (
            f"'{head}' of a {task.method} result is a single value, so {ref.raw} cannot reach into it",
            "ask for JSON with 'format: json' and use ${" + f"{task.id}.parsed" + "...}"
            if head == "response"
            else f"use ${{{task.id}.{head}}}",
        )
    return None


def check_value_references(
    value: Any,
    path: Path,
    r: Reporter,
    label: str | None,
    lookup: TaskLookup | None,
    inputs: Mapping[str, InputSpec],
    where: str,
    *,
    loop: bool = False,
) -> tuple[Any, list[tuple[str, Path]]]:
    """Check every reference in ``value`` (found at ``path``); the value with task references by id and
    the task ids it refers to (with where each is mentioned). ``loop``: ``value`` belongs to a foreach
    task's parameters or ``when``, where ${item} and ${item_index} name the current item."""
    mentions: list[tuple[str, Path]] = []

    def walk(v: Any, p: Path) -> Any:
        if isinstance(v, str):
            if "${" not in v:
                return v
            try:
                parts = parse_template(v)
            except ValidationError as exc:
                for prob in exc.problems:
                    r.add(
                        prob.code, prob.message, p, task=label, key=key_of(p[2:]) or key_of(p), hint=prob.hint
                    )
                return v
            renames: dict[str, Reference] = {}
            for part in parts:
                if isinstance(part, Reference):
                    new = _check_one(part, p)
                    if new is not None:
                        renames[part.raw] = new
            return rewrite_references(v, lambda ref: renames.get(ref.raw, ref))
        if isinstance(v, dict):
            return {k: walk(x, (*p, k)) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x, (*p, i)) for i, x in enumerate(v)]
        return v

    def _check_one(ref: Reference, p: Path) -> Reference | None:
        key = key_of(p[2:]) if p and p[0] == "tasks" else key_of(p)
        if ref.root in LOOP_ROOTS and _check_loop_name(ref, p, key):
            return None
        if ref.is_input:
            if not ref.path or not isinstance(ref.path[0], str):
                r.add(
                    "unknown-input",
                    f"{ref.raw} does not name an input",
                    p,
                    task=label,
                    key=key,
                    hint="write ${inputs.name}",
                )
                return None
            name = ref.path[0]
            if name not in inputs:
                r.add(
                    "unknown-input",
                    f"{ref.raw} refers to an input that is not declared",
                    p,
                    task=label,
                    key=key,
                    hint=did_you_mean(name, inputs, otherwise=f"add an 'inputs:' entry named '{name}'"),
                )
            elif len(ref.path) > 1 and inputs[name].type not in ("any", "list", "object"):
                r.add(
                    "unknown-field",
                    f"input '{name}' is a {inputs[name].type}, so {ref.raw} cannot reach into it",
                    p,
                    task=label,
                    key=key,
                    hint=f"use ${{inputs.{name}}}",
                )
            return None
        if lookup is None:
            r.add(
                "unknown-reference",
                f"{ref.raw} refers to a task, but {where} can only use inputs",
                p,
                task=label,
                key=key,
                hint="use ${inputs.name}, or write the tasks out instead of a batch",
            )
            return None
        target, ref = lookup.find(ref)
        if target is None or target.id is None:
            r.add(
                "unknown-reference",
                f"{ref.raw} refers to unknown task '{ref.root}'",
                p,
                task=label,
                key=key,
                hint=did_you_mean(ref.root, lookup.by_key, otherwise=_known(lookup)),
            )
            return None
        if is_method(target.method):
            alias = answer_text_alias(ref.path, method_info(target.method).primary_field)  # type: ignore[arg-type]
            if alias is not None:
                ref = Reference(ref.root, alias, ref.raw)
        bad = _check_field(target, ref)
        if bad is not None:
            r.add("unknown-field", f"{ref.raw}: {bad[0]}", p, task=label, key=key, hint=bad[1])
        mentions.append((target.id, p))
        return Reference(target.id, ref.path, ref.raw)

    def _check_loop_name(ref: Reference, p: Path, key: str) -> bool:
        """True when ``ref`` is ${item}/${item_index} (checked here); False for a task of that name."""
        task_named = lookup is not None and ref.root in lookup.by_key
        if loop:
            if task_named:
                r.add(
                    "ambiguous-reference",
                    f"{ref.raw} is ambiguous in a foreach task: a task is also named '{ref.root}'",
                    p,
                    task=label,
                    key=key,
                    hint=f"rename the task '{ref.root}' ({ref.raw} here means the current item)",
                )
            elif ref.root == ITEM_INDEX_ROOT and ref.path:
                r.add(
                    "unknown-field",
                    f"{ref.raw}: ${{item_index}} is a number, nothing to reach into",
                    p,
                    task=label,
                    key=key,
                    hint="use ${item_index} (0 for the first item), or ${item.field} for the item's data",
                )
            return True
        if task_named:
            return False
        r.add(
            "item-outside-foreach",
            f"{ref.raw} is only available in a task with 'foreach:' (its parameters and 'when')",
            p,
            task=label,
            key=key,
            hint="add 'foreach: [...]' to this task to run it once per item, or refer to a task or input",
        )
        return True

    return walk(value, path), mentions


def link_tasks(tasks: list[RawTask], inputs: Mapping[str, InputSpec], r: Reporter) -> TaskLookup:
    """Resolve dependencies and references in place; report unknown ones and cycles."""
    assign_ids(tasks, r)
    lookup = TaskLookup(tasks)
    edges: dict[str, list[str]] = {}
    edge_paths: dict[tuple[str, str], Path] = {}
    for t in tasks:
        if t.id is None:
            continue
        deps: list[str] = []
        for dep, p in t.dependencies:
            target = lookup.by_key.get(dep)
            if target is None or target.id is None:
                r.add(
                    "unknown-dependency",
                    f"depends on unknown task '{dep}'",
                    p,
                    task=t.label,
                    key=key_of(p[2:]),
                    hint=did_you_mean(dep, lookup.by_key, otherwise=_known(lookup)),
                )
                continue
            if target.id not in deps:
                deps.append(target.id)
                edge_paths.setdefault((t.id, target.id), p)
        params_path = (*t.path, t.params_key)
        loop = t.loops
        mentions: list[tuple[str, Path]] = []
        if t.foreach is not None:
            # The list itself is resolved before any item exists: no ${item} in it.
            t.foreach, mentions = check_value_references(
                t.foreach, (*t.path, "foreach"), r, t.label, lookup, inputs, "a task"
            )
        t.parameters, param_mentions = check_value_references(
            t.parameters, params_path, r, t.label, lookup, inputs, "a task", loop=loop
        )
        mentions += param_mentions
        if t.when is not None:
            t.when, when_mentions = check_value_references(
                t.when, (*t.path, "when"), r, t.label, lookup, inputs, "a task", loop=loop
            )
            mentions += when_mentions
        for dep_id, p in mentions:
            if dep_id not in deps:
                deps.append(dep_id)
                edge_paths.setdefault((t.id, dep_id), p)
        t.dependencies = [(d, edge_paths[(t.id, d)]) for d in deps]
        edges[t.id] = deps
    order = [t.id for t in tasks if t.id is not None and t.id in edges]
    for cycle in find_cycles(order, edges):
        first = lookup.by_key[cycle[0]]
        p = edge_paths[(cycle[0], cycle[1])]
        if len(cycle) == 2:
            r.add(
                "cycle",
                f"task '{cycle[0]}' depends on itself",
                p,
                task=first.label,
                key=key_of(p[2:]),
                hint="remove the dependency (or the reference) on the task itself",
            )
        else:
            r.add(
                "cycle",
                "dependency cycle: " + " -> ".join(cycle) + " (each waits for the next)",
                p,
                task=first.label,
                key=key_of(p[2:]),
                hint=f"remove one of these dependencies, e.g. '{cycle[0]}' on '{cycle[1]}'",
            )
    return lookup
