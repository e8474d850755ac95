"""Public result models of the Gleitzeit client surface: Task, TaskResult, WorkflowExecution.

Also what a run handle reports: ``LogEvent`` (one line of a run's log) and ``WorkflowSummary`` (one
row of ``list_workflows``). All are plain pydantic models, identical in native and api mode (the REST
API sends them as JSON).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

__all__ = [
    "LogEvent",
    "OutputsDir",
    "ResumePlan",
    "RunFile",
    "RunFiles",
    "Task",
    "TaskResult",
    "TaskStatus",
    "UploadedFile",
    "WorkflowExecution",
    "WorkflowStatus",
    "WorkflowSummary",
]


class TaskStatus(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    # A time/sleep, time/until or human/approval task (its prompt in TaskResult.prompt).
    WAITING = "waiting"
    COMPLETED = "completed"
    FAILED = "failed"
    SKIPPED = "skipped"
    CANCELLED = "cancelled"


class WorkflowStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    # Finished, but tasks with ``on_error: continue`` (or files of a batch) failed.
    PARTIAL = "partial"
    FAILED = "failed"
    CANCELLED = "cancelled"
    TERMINATED = "terminated"
    TIMED_OUT = "timed_out"
    CONTINUED_AS_NEW = "continued_as_new"


class Task(BaseModel):
    """A task as users write it (the YAML task shape), for ``execute_task``."""

    model_config = ConfigDict(populate_by_name=True, extra="allow")

    id: str | None = None
    name: str | None = None
    method: str
    protocol: str | None = None
    parameters: dict[str, Any] = Field(
        default_factory=dict, validation_alias=AliasChoices("parameters", "params")
    )
    dependencies: list[str] = Field(default_factory=list)
    priority: str | int | None = None
    timeout: float | None = None
    retry: dict[str, Any] | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    @property
    def params(self) -> dict[str, Any]:
        return self.parameters


class TaskResult(BaseModel):
    """What one task produced. ``result`` is the method's result dict."""

    task_id: str
    status: TaskStatus = TaskStatus.COMPLETED
    result: Any = None
    error: str | None = None
    attempts: int = 0
    started_at: datetime | None = None
    completed_at: datetime | None = None
    # In a resumed run: "carried" (the earlier run's result, not run again) or "ran".
    origin: str | None = None
    # A waiting human/approval task's prompt; when a wait ends (a timer, an approval's timeout).
    prompt: str | None = None
    until: datetime | None = None

    @property
    def response(self) -> Any:
        """The LLM text (``result['response']``) or, for scripts, the script's JSON output."""
        if isinstance(self.result, dict):
            for key in ("response", "result", "embeddings"):
                if key in self.result:
                    return self.result[key]
        return self.result

    @property
    def success(self) -> bool:
        return self.status == TaskStatus.COMPLETED

    @property
    def duration(self) -> float | None:
        if self.started_at and self.completed_at:
            return (self.completed_at - self.started_at).total_seconds()
        return None


class WorkflowExecution(BaseModel):
    """One run of a workflow as the client reports it."""

    workflow_id: str
    run_id: str | None = None
    name: str | None = None
    status: WorkflowStatus = WorkflowStatus.RUNNING
    results: dict[str, TaskResult] = Field(default_factory=dict)
    outputs: dict[str, Any] = Field(default_factory=dict)
    error: str | None = None
    started_at: datetime | None = None
    completed_at: datetime | None = None
    web_url: str | None = None
    # "workflow" (a DAG pipeline) or "batch" (``batch_process``; counters in ``details``).
    kind: str = "workflow"
    details: dict[str, Any] = Field(default_factory=dict)
    warnings: list[str] = Field(default_factory=list)

    @property
    def success(self) -> bool:
        return self.status in (WorkflowStatus.COMPLETED, WorkflowStatus.PARTIAL)


class LogEvent(BaseModel):
    """One event of a run, oldest first: ``workflow_started``, ``task_scheduled``, ``task_started``,
    ``task_completed``, ``task_failed``, ``task_timed_out``, ``task_cancelled``, ``task_skipped``,
    ``workflow_completed``, ``workflow_failed``, ``workflow_cancelled``, ``workflow_terminated``,
    ``workflow_timed_out``, ``workflow_continued``."""

    time: datetime | None = None
    event: str
    task_id: str | None = None
    attempt: int | None = None
    message: str | None = None


class WorkflowSummary(BaseModel):
    """One run as ``list_workflows`` shows it."""

    workflow_id: str
    run_id: str | None = None
    workflow_type: str | None = None
    name: str | None = None
    status: WorkflowStatus = WorkflowStatus.RUNNING
    started_at: datetime | None = None
    completed_at: datetime | None = None


class UploadedFile(BaseModel):
    """A file stored by ``upload_files`` / ``POST /v1/files``: pass ``path`` as a pipeline input.

    Storage is content-addressed (``<data_dir>/uploads/<sha256>/<name>``): the same content uploaded
    again is stored once, and ``duplicate`` says the bytes were already there.
    """

    id: str = Field(description="the content's SHA-256 (hex); GET /v1/files/{id}")
    name: str
    size: int
    sha256: str
    path: str = Field(description="absolute path on the server, usable as a workflow input")
    duplicate: bool = False


class OutputsDir(BaseModel):
    """A directory a run's task writes its files to (a python task's ``outputs_dir``, a batch's
    ``output_dir``), resolved to an absolute path."""

    task_id: str
    path: str
    exists: bool = False


class RunFile(BaseModel):
    """One file a run wrote: ``path`` is relative to its outputs directory (``download`` takes it)."""

    path: str
    size: int
    task_id: str
    modified_at: datetime | None = None


class RunFiles(BaseModel):
    """What ``list_run_files`` / ``GET /v1/workflows/{id}/files`` answer."""

    workflow_id: str
    directories: list[OutputsDir] = Field(default_factory=list)
    files: list[RunFile] = Field(default_factory=list)
    truncated: bool = Field(default=False, description="more files than one listing holds (10,000)")


class ResumePlan(BaseModel):
    """What resuming a run does (``gleitzeit resume``, ``client.plan_resume``): the tasks whose
    results are carried over from the earlier run and those that run, each with the reason."""

    workflow_id: str = Field(description="the earlier run")
    new_workflow_id: str | None = Field(default=None, description="the resumed run (None for a dry run)")
    kind: str = "workflow"
    carried: list[str] = Field(default_factory=list)
    to_run: list[str] = Field(default_factory=list)
    reasons: dict[str, str] = Field(default_factory=dict, description="task id -> why it runs again")
    notes: list[str] = Field(default_factory=list)
