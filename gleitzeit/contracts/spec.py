"""Validated workflow models: what the loader (``gleitzeit.dsl``) produces and the DAG workflow consumes.

These are the *normalised* form: aliases are folded (``params`` -> ``parameters``, ``llm/complete`` ->
``llm/generate``, word or number priorities -> an int rank), every reference in parameters, ``when`` and
``outputs`` names tasks by id, and ``dependencies`` holds explicit plus implied dependencies. The raw YAML
shape (with its aliases and line numbers) lives only in the loader.

They travel to Temporal through the pydantic data converter, so they must stay plain data. Every
number has a range (durations at most ``MAX_DURATION_SECONDS``, ``max_parallel`` at most
``MAX_PARALLEL_LIMIT``), so a spec built by hand cannot carry what the loader refuses.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from gleitzeit.core.limits import MAX_PARALLEL_LIMIT
from gleitzeit.core.units import MAX_DURATION_SECONDS

__all__ = [
    "MAX_FOREACH_ITEMS",
    "MAX_FOREACH_TOTAL_ITEMS",
    "PRIORITY_RANKS",
    "BatchSpec",
    "InputSpec",
    "InputType",
    "OnError",
    "RetrySpec",
    "TaskSpec",
    "WorkflowSpec",
]

# Higher runs first among ready tasks when max_parallel caps the run.
# The original Gleitzeit maps numbers 1/2/3 to high/normal/low; the loader does the same.
PRIORITY_RANKS: dict[str, int] = {"low": 0, "normal": 1, "high": 2, "urgent": 3}

# A foreach task runs one activity per item, each ~3.5 history events: 1,000 items stay far below
# Temporal's 51,200-event limit (FACTS.md). Longer lists belong to the batch form, which continues
# as new; an inline list over this is refused by validate, a referenced one fails the task at run time.
MAX_FOREACH_ITEMS = 1000
# All foreach items of one run together (several foreach tasks): ~35,000 events at most.
MAX_FOREACH_TOTAL_ITEMS = 10_000

InputType = Literal["string", "integer", "number", "boolean", "list", "object", "any"]
OnError = Literal["fail", "continue"]
Backoff = Literal["exponential", "linear", "fixed"]


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RetrySpec(_Frozen):
    """Gleitzeit's retry block, enforced through Temporal's RetryPolicy."""

    max_attempts: int = Field(default=3, ge=1, le=100)
    backoff: Backoff = "exponential"
    base_delay: float = Field(default=1.0, gt=0, le=MAX_DURATION_SECONDS)
    max_delay: float = Field(default=300.0, gt=0, le=MAX_DURATION_SECONDS)
    jitter: bool = True


class InputSpec(_Frozen):
    """A declared workflow input. ``required`` is true when no default was given."""

    type: InputType = "any"
    default: Any = None
    required: bool = False
    description: str | None = None
    line: int | None = None  # where the input is declared, for "missing input" messages at run time


class TaskSpec(_Frozen):
    id: str
    name: str | None = None
    method: str  # canonical method name, see gleitzeit.dsl.methods
    parameters: dict[str, Any] = Field(default_factory=dict)
    # Explicit dependencies plus those implied by references, as task ids, in first-mention order.
    dependencies: list[str] = Field(default_factory=list)
    priority: int = Field(default=PRIORITY_RANKS["normal"], ge=0, le=max(PRIORITY_RANKS.values()))
    timeout: float | None = Field(default=None, gt=0, le=MAX_DURATION_SECONDS)  # seconds for one attempt
    retry: RetrySpec | None = None
    when: str | None = None
    on_error: OnError = "fail"
    # Run once per item: an inline list (its entries may hold references) or one "${...}" reference
    # to a list. Parameters and ``when`` may use ${item} and ${item_index}.
    foreach: list[Any] | str | None = None
    # Items of this task in flight at once (None: up to the workflow's max_parallel).
    max_concurrent: int | None = Field(default=None, ge=1)
    metadata: dict[str, Any] = Field(default_factory=dict)
    line: int | None = None  # where the task starts in its file, for messages at run time

    @property
    def label(self) -> str:
        """What the web UI and progress show: the name when it differs from the id."""
        if self.name and self.name != self.id:
            return f"{self.id} ({self.name})"
        return self.id


class BatchSpec(_Frozen):
    directory: str
    pattern: str = "*"
    max_concurrent: int | None = Field(default=None, ge=1, le=MAX_PARALLEL_LIMIT)


class WorkflowSpec(_Frozen):
    name: str
    description: str = ""
    id: str | None = None
    version: str | None = None
    tasks: list[TaskSpec] = Field(default_factory=list)
    inputs: dict[str, InputSpec] = Field(default_factory=dict)
    # name -> a value that may hold references (usually one "${task.field}" string)
    outputs: dict[str, Any] = Field(default_factory=dict)
    max_parallel: int | None = Field(default=None, ge=1, le=MAX_PARALLEL_LIMIT)
    timeout: float | None = Field(default=None, gt=0, le=MAX_DURATION_SECONDS)  # whole-workflow limit (s)
    metadata: dict[str, Any] = Field(default_factory=dict)
    # The batch form: one task per matching file, built from ``template``.
    batch: BatchSpec | None = None
    template: dict[str, Any] | None = None
    # Where the workflow came from; relative paths in parameters resolve against base_dir.
    source_file: str | None = None
    base_dir: str | None = None

    def task(self, task_id: str) -> TaskSpec:
        for t in self.tasks:
            if t.id == task_id:
                return t
        raise KeyError(task_id)
