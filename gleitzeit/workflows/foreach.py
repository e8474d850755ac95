"""A ``foreach:`` task's items: which list, which item starts next, what each item ended as, and the
task's result (pure bookkeeping; DagWorkflow starts the activities and owns the run's state).

A foreach task runs one activity per item, with ``${item}`` and ``${item_index}`` bound in its
parameters and ``when``. Items count against the workflow's ``max_parallel`` like tasks do, and at
most ``max_concurrent`` of one task are in flight. Each item's activity id is ``<task id>[<index>]``
(a task id cannot hold ``[``), stable across replays, and its retries are the task's.

The task's result (``FOREACH_FIELDS`` in ``gleitzeit.dsl.linking`` is what references may name)::

    result   each item's primary value in item order (the response of an LLM item, the script's
             JSON of a python item); null for an item that failed (on_error: continue) or was
             skipped by a ``when`` that uses ${item}
    results  each item's whole result dict (null likewise): ${t.results[0].tokens_used}
    errors   the failed items: [{index, error, error_type, attempts}]
    count    the number of items

An item's result over the offload threshold (docs/results.md) stands in both lists as its blob's
marker; a later task's activity and the client read it there.

so ``${t}`` and ``${t.result}`` are the list of primary values and ``${t[2]}`` the third one.

Why a cap and not continue-as-new: one activity costs ~3.5 history events, so ``MAX_FOREACH_ITEMS``
(1,000) items per task and ``MAX_FOREACH_TOTAL_ITEMS`` per run stay far below Temporal's 51,200;
the batch form is the way for longer lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from gleitzeit.contracts.spec import MAX_FOREACH_ITEMS, MAX_FOREACH_TOTAL_ITEMS, TaskSpec
from gleitzeit.contracts.tasks import OffloadedResult, offloaded_ref
from gleitzeit.core.errors import Problem, ValidationError
from gleitzeit.dsl import conditions, references
from gleitzeit.dsl.methods import method_info

__all__ = ["ForeachRun", "item_activity_id", "resolve_items", "when_per_item"]


def item_activity_id(task_id: str, index: int) -> str:
    """The activity id (and the ``task_id`` the activity sees) of one item."""
    return f"{task_id}[{index}]"


def when_per_item(task: TaskSpec) -> bool:
    """Whether the task's ``when`` uses ${item}/${item_index}: then it decides per item (a false one
    skips that item), else once for the whole task before its list is resolved."""
    if not task.when:
        return False
    return any(r.root in references.LOOP_ROOTS for r in conditions.references_in(task.when))


def _refusal(message: str, hint: str) -> ValidationError:
    return ValidationError(problems=[Problem(message=message, hint=hint, code="foreach-invalid")])


def resolve_items(
    task: TaskSpec,
    results: Mapping[str, Any],
    inputs: Mapping[str, Any],
    primary_fields: Mapping[str, str],
    started_items: int,
) -> list[Any]:
    """The task's list of items, resolved; ValidationError (the task's failure, non-retryable) when
    it is not a list or too long. ``started_items``: items of earlier foreach tasks in this run."""
    value = references.resolve(task.foreach, results, inputs, primary_fields=primary_fields)
    where = f"'foreach' of task '{task.id}'" + (f" ({task.foreach})" if isinstance(task.foreach, str) else "")
    if not isinstance(value, list):
        raise _refusal(
            f"{where} is {type(value).__name__}, not a list",
            'make the referenced value a list (e.g. a script\'s result {"items": [...]})',
        )
    if len(value) > MAX_FOREACH_ITEMS:
        raise _refusal(
            f"{where} has {len(value):,} items, over the limit of {MAX_FOREACH_ITEMS:,} per task",
            "run long lists with the batch form ('type: batch' over files), or split the list",
        )
    if started_items + len(value) > MAX_FOREACH_TOTAL_ITEMS:
        raise _refusal(
            f"{where} has {len(value):,} items: with the {started_items:,} of earlier foreach tasks the "
            f"run would pass its limit of {MAX_FOREACH_TOTAL_ITEMS:,} items",
            "split the pipeline into several runs, or use the batch form for long lists",
        )
    return value


@dataclass
class ForeachRun:
    """One foreach task in progress: items start in order, at most ``limit`` at a time."""

    task: TaskSpec
    items: list[Any]
    limit: int
    next: int = 0
    in_flight: int = 0
    completed: int = 0
    skipped: int = 0
    results: list[dict[str, Any] | None] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)

    per_item_when: bool = False

    def __post_init__(self) -> None:
        self.results = [None] * len(self.items)
        self.per_item_when = when_per_item(self.task)

    @property
    def done(self) -> bool:
        return self.next >= len(self.items) and self.in_flight == 0

    def can_start(self) -> bool:
        return self.next < len(self.items) and self.in_flight < self.limit

    def take(self) -> tuple[int, dict[str, Any]]:
        """The next item's index and its bindings (``item``, ``item_index``), counted in flight."""
        index = self.next
        self.next += 1
        self.in_flight += 1
        return index, {references.ITEM_ROOT: self.items[index], references.ITEM_INDEX_ROOT: index}

    def skip(self) -> None:
        """The item just taken was skipped (its ``when`` was false)."""
        self.in_flight -= 1
        self.skipped += 1

    def succeed(self, index: int, result: dict[str, Any]) -> None:
        self.in_flight -= 1
        self.completed += 1
        self.results[index] = result

    def fail(self, index: int, error: str, error_type: str, attempts: int | None) -> str:
        """Record a failed item (its activity failed, or its parameters could not be resolved);
        the task's error text naming it."""
        self.in_flight -= 1
        self.errors.append({"index": index, "error": error, "error_type": error_type, "attempts": attempts})
        return f"item {index} failed" + (f" after {attempts} attempts" if attempts and attempts > 1 else "")

    def progress(self) -> dict[str, int]:
        """The TaskProgress fields for the items."""
        return {
            "items": len(self.items),
            "items_completed": self.completed,
            "items_failed": len(self.errors),
            "items_skipped": self.skipped,
        }

    def summary(self) -> str | None:
        """What the task's progress says when items failed (on_error: continue)."""
        if not self.errors:
            return None
        first = self.errors[0]
        return (
            f"{len(self.errors)} of {len(self.items)} items failed "
            f"(first: item {first['index']}: {first['error']})"
        )

    def result(self) -> dict[str, Any]:
        """The task's result (see the module docstring)."""
        primary = method_info(self.task.method).primary_field
        return {
            "result": [
                None
                if r is None
                else _picked(ref, primary)
                if (ref := offloaded_ref(r)) is not None
                else r.get("result", r.get(primary))
                if isinstance(r, dict)
                else r
                for r in self.results
            ],
            "results": list(self.results),
            "errors": list(self.errors),
            "count": len(self.items),
        }


def _picked(ref: OffloadedResult, primary: str) -> dict[str, Any]:
    """An offloaded item's entry in the ``result`` list: its primary value, read where it is used
    (a later task's activity, the client)."""
    return ref.model_copy(update={"pick": primary}).marker()
