"""Request and response bodies of the REST API (the OpenAPI docs are generated from these)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gleitzeit.client.models import ModelInfo
from gleitzeit.contracts.batch import BatchOptions
from gleitzeit.contracts.dag import TaskProgress
from gleitzeit.core.files import PATH_PATTERN
from gleitzeit.core.models import ResumePlan
from gleitzeit.core.units import MAX_DURATION_SECONDS

__all__ = [
    "ApprovalRequest",
    "BatchRequest",
    "ChatRequest",
    "ChatResponse",
    "ErrorBody",
    "ErrorDetail",
    "ModelEntry",
    "ModelsResponse",
    "PathText",
    "ResumeRequest",
    "ResumeResponse",
    "RunInfo",
    "ScriptRequest",
    "ScriptResponse",
    "TaskRequest",
    "WorkflowRequest",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# A path the server's guard accepts at all: no control character (a NUL makes every OS call raise).
# The schema says so, so a schema-valid request is never refused for it.
PathText = Annotated[str, Field(pattern=PATH_PATTERN)]


def _exactly_one(*keys: str, or_none: bool = False) -> dict[str, Any]:
    """JSON Schema: exactly one of ``keys`` is given and not null (what the route checks); with
    ``or_none``, at most one."""
    choices: list[dict[str, Any]] = [
        {
            "required": [key],
            "properties": {
                key: {"not": {"type": "null"}},
                **{other: {"type": "null"} for other in keys if other != key},
            },
        }
        for key in keys
    ]
    if or_none:
        choices.append({"properties": {key: {"type": "null"} for key in keys}})
    return {"oneOf": choices}


class WorkflowRequest(_Strict):
    """Exactly one of ``path`` (a file on the server, inside its roots), ``yaml`` (the text) or
    ``spec`` (the workflow as JSON)."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_exactly_one("path", "yaml", "spec"))

    path: PathText | None = None
    yaml: str | None = None
    spec: dict[str, Any] | None = None
    filename: str | None = Field(default=None, description="what problems in `yaml` name as their file")
    base_dir: str | None = Field(
        default=None,
        description="where relative files of `yaml`/`spec` resolve (ignored unless inside the roots)",
    )
    inputs: dict[str, Any] = Field(default_factory=dict)
    workflow_id: str | None = None
    wait: bool = Field(default=False, description="answer with the result instead of the run's id")
    timeout: float | None = Field(
        default=None, gt=0, le=MAX_DURATION_SECONDS, description="with wait: seconds to wait at most"
    )


class ApprovalRequest(_Strict):
    """An answer to a waiting ``human/approval`` task (``gleitzeit approve``)."""

    approved: bool = Field(default=True, description="false rejects: the task fails with the reason")
    data: Any = Field(default=None, description="checked against the task's schema, when it has one")
    reason: str | None = None
    by: str | None = Field(default=None, description="who answers (checked against the task's approvers)")


class ResumeRequest(_Strict):
    """Resume an ended run. The pipeline is optional (the earlier run's when none): at most one of
    ``path``, ``yaml`` or ``spec``, as for starting a workflow."""

    model_config = ConfigDict(
        extra="forbid", json_schema_extra=_exactly_one("path", "yaml", "spec", or_none=True)
    )

    path: PathText | None = None
    yaml: str | None = None
    spec: dict[str, Any] | None = None
    filename: str | None = None
    base_dir: str | None = None
    inputs: dict[str, Any] = Field(default_factory=dict, description="override the earlier inputs")
    from_tasks: list[str] = Field(default_factory=list, description="run these and their dependents again")
    dry_run: bool = Field(default=False, description="answer with the plan only; start nothing")


class RunInfo(BaseModel):
    workflow_id: str
    run_id: str | None = None
    kind: str = "workflow"
    status: str = "running"
    web_url: str | None = None
    waiting_for_worker: bool = Field(
        default=False,
        description="the run's next step has been scheduled for a few seconds and no live worker polls "
        "its task queue (``message`` says which and what to do)",
    )
    message: str | None = None
    waiting: list[TaskProgress] = Field(
        default_factory=list,
        description="tasks waiting on a timer or for an approval (with its prompt); answer an approval "
        "with POST /v1/workflows/{id}/tasks/{task}/approval",
    )


class ChatRequest(_Strict):
    """``messages``, or ``prompt`` (with an optional ``system``). Ollama options go in ``options``."""

    messages: list[dict[str, Any]] | None = None
    prompt: str | None = None
    system: str | None = None
    model: str | None = None
    temperature: float | None = 0.7
    max_tokens: int | None = Field(default=None, ge=1)
    options: dict[str, Any] = Field(default_factory=dict)


class ChatResponse(BaseModel):
    response: str
    model: str


class ModelEntry(BaseModel):
    """One model in OpenAI's list shape."""

    id: str
    object: Literal["model"] = "model"
    # Unix time of the model file when known (``?details=true``), else 0: /api/tags is asked only for names.
    created: int = 0
    owned_by: str = "gleitzeit"


class ModelsResponse(BaseModel):
    """OpenAI's ``GET /v1/models`` shape (so OpenAI clients can list them), plus Gleitzeit's fields."""

    object: Literal["list"] = "list"
    data: list[ModelEntry]
    default_model: str
    # With ?details=true: each model's size and capabilities.
    details: list[ModelInfo] | None = None


class TaskRequest(_Strict):
    task: dict[str, Any]


class ScriptRequest(_Strict):
    script: PathText
    args: dict[str, Any] | None = None
    timeout: float = Field(default=30, gt=0, le=MAX_DURATION_SECONDS)
    # Where the script may write: a directory inside the file roots; omitted: the script's own
    # directory; false: nowhere (see GleitzeitClient.execute_python_script).
    outputs_dir: PathText | Literal[False] | None = None

    @field_validator("outputs_dir", mode="before")
    @classmethod
    def _path_or_false(cls, value: object) -> object:
        # As the schema says: a string, false or null (0 == False would otherwise pass as false).
        if value is None or isinstance(value, str | bool):
            return value
        raise ValueError("outputs_dir is a directory (a string), false for nowhere, or null")


class ScriptResponse(BaseModel):
    result: Any = None


class BatchRequest(BatchOptions):
    """A durable batch: ``method`` with ``parameters`` over every file of ``directory`` matching ``pattern``."""

    # The fields are the contract's (``BatchOptions``), declared once; the server fills in the rest.
    model_config = ConfigDict(extra="forbid")

    workflow_id: str | None = None


class ResumeResponse(BaseModel):
    """What is carried and what runs; ``run`` is the new run (None for a dry run)."""

    plan: ResumePlan
    run: RunInfo | None = None


class ResultPending(BaseModel):
    workflow_id: str
    status: Literal["running"] = "running"


class ErrorDetail(BaseModel):
    """One failure: the ``gleitzeit.core.errors`` class name, the message, and what else it carries."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="e.g. ValidationError, PermissionDeniedError, WorkflowNotFoundError")
    message: str
    status_code: int | None = None
    problems: list[dict[str, Any]] | None = Field(
        default=None, description="ValidationError: each problem with file, line, task, key, hint"
    )


class ErrorBody(BaseModel):
    """Every error answer of the API."""

    error: ErrorDetail
