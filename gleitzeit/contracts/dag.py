"""DagWorkflow's input, result and progress (plain data for the pydantic converter)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.limits import MAX_PARALLEL_LIMIT

__all__ = [
    "APPROVE_UPDATE",
    "ApprovalAnswer",
    "DagInput",
    "DagResult",
    "TaskProgress",
    "TaskState",
    "WorkflowProgress",
]

# "waiting": a time/sleep, time/until or human/approval task (no activity; see gleitzeit.workflows.waits).
TaskState = Literal["pending", "running", "waiting", "completed", "failed", "skipped", "cancelled"]
# The name of DagWorkflow's update that answers a waiting human/approval task.
APPROVE_UPDATE = "approve"


class DagInput(BaseModel):
    spec: WorkflowSpec
    inputs: dict[str, Any] = Field(default_factory=dict)  # already bound (defaults applied, types checked)
    # Used when the spec sets no max_parallel (from Settings.max_parallel on the starting side).
    default_max_parallel: int = Field(default=50, ge=1, le=MAX_PARALLEL_LIMIT)
    # A resumed run (see docs/resume.md): the results of the tasks carried over from the earlier run
    # (task id -> result), marked completed at the start without an activity; and that run's id.
    carried: dict[str, Any] = Field(default_factory=dict)
    resumed_from: str | None = None
    # Each task's fingerprint when the run started (gleitzeit.client.resume_plan), for a later resume
    # to compare; the workflow does not read it. In the input, not the memo: the SDK warns above 2 KiB
    # of memo, and 1,000 tasks take ~26 KB.
    fingerprints: dict[str, str] = Field(default_factory=dict)
    # The roots the run was started with (the REST API's): every file a task opens must lie inside
    # them, on whichever worker runs it (gleitzeit.core.files.read_roots). None: the worker's own rule.
    file_roots: list[str] | None = None


class TaskProgress(BaseModel):
    task_id: str
    name: str | None = None
    method: str
    state: TaskState = "pending"
    attempts: int | None = None  # known for failures; running attempts come from describe()
    started_at: datetime | None = None
    ended_at: datetime | None = None
    error: str | None = None
    error_type: str | None = None
    reason: str | None = None  # why a task was skipped or cancelled
    # A foreach task's items (None for other tasks): how many, and how many ended each way so far.
    items: int | None = None
    items_completed: int | None = None
    items_failed: int | None = None
    items_skipped: int | None = None
    # How a completed task got its result: "ran" (an activity of this run) or "carried" (from the
    # earlier run this one resumes); None while it has not started.
    origin: Literal["ran", "carried"] | None = None
    # A waiting task: an approval's prompt (references resolved), and when the wait ends (a timer's
    # end, an approval's timeout; None for an approval without one).
    prompt: str | None = None
    until: datetime | None = None


class ApprovalAnswer(BaseModel):
    """An answer to a waiting human/approval task (the ``approve`` update's argument)."""

    task_id: str
    approved: bool = True
    data: Any = None  # checked against the task's schema, when it has one
    reason: str | None = None
    by: str | None = None


class WorkflowProgress(BaseModel):
    workflow_id: str
    name: str
    status: Literal["running", "completed", "partial", "failed", "cancelled", "timed_out"] = "running"
    total: int = 0
    completed: int = 0
    failed: int = 0
    skipped: int = 0
    running: int = 0
    waiting: int = 0
    pending: int = 0
    tasks: list[TaskProgress] = Field(default_factory=list)


class DagResult(BaseModel):
    workflow_id: str
    name: str
    # "partial": the run finished but tasks with on_error: continue failed (see tasks).
    status: Literal["completed", "partial"] = "completed"
    results: dict[str, Any] = Field(default_factory=dict)  # task id -> result dict
    outputs: dict[str, Any] = Field(default_factory=dict)
    tasks: list[TaskProgress] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
