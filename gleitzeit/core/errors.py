"""The one exception tree of Gleitzeit.

Every error a user can catch comes from here; Temporal, httpx, ollama and docker errors are
translated at the boundary where they occur, so callers never import those libraries to handle
failures::

    GleitzeitError
    ├── ConfigurationError            bad settings, missing binaries
    ├── ValidationError               a workflow/task/request is invalid (carries .problems)
    │   └── PayloadTooLargeError      a body, an uploaded file or a pipeline over its limit (HTTP 413)
    ├── ServiceUnavailableError       a service we need does not answer
    │   ├── TemporalUnavailableError
    │   ├── LLMUnavailableError
    │   ├── DockerUnavailableError
    │   ├── McpServerError            an MCP server did not start or answer (names server, command)
    │   └── ForkServerLost        (gleitzeit.executors) the local executor's fork server died
    ├── NotFoundError                 unknown workflow id, model, file ...
    │   ├── WorkflowNotFoundError
    │   └── ModelNotFoundError
    ├── ExecutionError                something ran and failed
    │   ├── TaskExecutionError        one task failed (task_id, attempts, cause)
    │   │   └── ScriptError           a python script's own failure (exit code, stderr tail)
    │   └── WorkflowExecutionError    the workflow as a whole failed
    │       └── WorkflowCancelledError
    ├── TimeoutError                  also a builtins.TimeoutError
    ├── ConflictError                 the run is in the wrong state for the request (HTTP 409)
    ├── AuthenticationError           REST API token missing or wrong
    ├── PermissionDeniedError         a path outside the allowed file roots (REST API, outputs_dir)
    └── APIError                      REST API answered with an unexpected status (status_code)
"""

from __future__ import annotations

import builtins
from dataclasses import asdict, dataclass
from typing import Any

__all__ = [
    "APIError",
    "AuthenticationError",
    "ConfigurationError",
    "ConflictError",
    "DockerUnavailableError",
    "ExecutionError",
    "GleitzeitError",
    "LLMUnavailableError",
    "McpServerError",
    "ModelNotFoundError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Problem",
    "ScriptError",
    "ServiceUnavailableError",
    "TaskExecutionError",
    "TemporalUnavailableError",
    "TimeoutError",
    "ValidationError",
    "WorkflowCancelledError",
    "WorkflowExecutionError",
    "WorkflowNotFoundError",
]


class GleitzeitError(Exception):
    """Base class of every error Gleitzeit raises on purpose."""


class ConfigurationError(GleitzeitError):
    """Settings are inconsistent or a required binary/package is missing."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a workflow, located as precisely as we can.

    ``line`` and ``column`` are 1-based and refer to ``file`` (or to the YAML text when the workflow
    did not come from a file). ``task`` is the task id (or name) the problem belongs to, ``key`` the
    dotted key inside the task or document (``parameters.model``), ``hint`` says what to do.
    """

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    task: str | None = None
    key: str | None = None
    hint: str | None = None
    code: str = "invalid"

    def location(self) -> str:
        where = self.file or "<workflow>"
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where

    def __str__(self) -> str:
        parts = [self.location()]
        if self.task:
            parts.append(f"task '{self.task}'")
        if self.key:
            parts.append(f"key '{self.key}'")
        text = ": ".join([", ".join(parts), self.message])
        if self.hint:
            text += f" (hint: {self.hint})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ValidationError(GleitzeitError, ValueError):
    """Input that cannot be accepted: a workflow file, task, parameter or request.

    ``problems`` lists every problem found (validation reports all of them at once).
    """

    def __init__(self, message: str | None = None, problems: list[Problem] | None = None) -> None:
        self.problems: list[Problem] = list(problems or [])
        if message is None:
            if len(self.problems) == 1:
                message = str(self.problems[0])
            else:
                message = f"{len(self.problems)} problems:\n" + "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(message)


class PayloadTooLargeError(ValidationError):
    """A request body, an uploaded file or a workflow (file, text or dict) larger than its limit (HTTP 413);
    refused before it is parsed or stored."""


class ServiceUnavailableError(GleitzeitError, ConnectionError):
    """A service Gleitzeit needs (Temporal, the LLM server, Docker) does not answer."""


class TemporalUnavailableError(ServiceUnavailableError):
    """No Temporal server answers at the configured address."""


class LLMUnavailableError(ServiceUnavailableError):
    """No Ollama-API server answers at OLLAMA_HOST."""


class DockerUnavailableError(ServiceUnavailableError):
    """No Docker engine answers."""


class McpServerError(ServiceUnavailableError):
    """An MCP server did not start, or did not answer; the message names the server and its command."""


class NotFoundError(GleitzeitError, LookupError):
    """Something named by the caller does not exist."""


class WorkflowNotFoundError(NotFoundError):
    """No workflow run with that id."""


class ModelNotFoundError(NotFoundError):
    """The LLM server does not have that model."""


class ExecutionError(GleitzeitError):
    """Something ran and failed."""


class TaskExecutionError(ExecutionError):
    """A task failed after its retries; names the task, the attempts and the cause.

    ``cause`` is the innermost error message (the script's stderr tail, the LLM server's answer),
    ``cause_type`` its type name, ``partial_results`` the results of tasks that did finish and
    ``tasks`` every task's state when the run stopped (``TaskProgress`` dicts: task_id, state,
    attempts, error, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        task_id: str | None = None,
        attempts: int | None = None,
        cause: str | None = None,
        cause_type: str | None = None,
        workflow_id: str | None = None,
        partial_results: dict[str, Any] | None = None,
        tasks: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.attempts = attempts
        self.cause = cause
        self.cause_type = cause_type
        self.workflow_id = workflow_id
        self.partial_results: dict[str, Any] = dict(partial_results or {})
        self.tasks: list[dict[str, Any]] = list(tasks or [])


class ScriptError(TaskExecutionError):
    """A Python script failed on its own (non-zero exit, exception, bad output, out of memory)."""

    def __init__(
        self,
        message: str,
        *,
        exit_code: int | None = None,
        stderr_tail: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, **kwargs)
        self.exit_code = exit_code
        self.stderr_tail = stderr_tail


class WorkflowExecutionError(ExecutionError):
    """The workflow failed as a whole (not attributable to one task), or was terminated."""

    def __init__(
        self,
        message: str,
        *,
        workflow_id: str | None = None,
        partial_results: dict[str, Any] | None = None,
        tasks: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id
        self.partial_results: dict[str, Any] = dict(partial_results or {})
        self.tasks: list[dict[str, Any]] = list(tasks or [])


class WorkflowCancelledError(WorkflowExecutionError):
    """The workflow was cancelled; ``partial_results`` keeps what finished before."""


class TimeoutError(GleitzeitError, builtins.TimeoutError):  # noqa: A001 - the seed's public name
    """An operation or a whole workflow ran out of time."""

    def __init__(
        self,
        message: str,
        *,
        task_id: str | None = None,
        workflow_id: str | None = None,
        partial_results: dict[str, Any] | None = None,
        tasks: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(message)
        self.task_id = task_id
        self.workflow_id = workflow_id
        self.partial_results: dict[str, Any] = dict(partial_results or {})
        self.tasks: list[dict[str, Any]] = list(tasks or [])


class ConflictError(GleitzeitError):
    """The run is in the wrong state for the request, e.g. resuming a run that is still running
    (HTTP 409; the message says what to do: wait, or cancel it)."""

    def __init__(self, message: str, *, workflow_id: str | None = None) -> None:
        super().__init__(message)
        self.workflow_id = workflow_id


class AuthenticationError(GleitzeitError):
    """The REST API refused the bearer token (missing or wrong)."""


class PermissionDeniedError(GleitzeitError, PermissionError):
    """A file path outside the configured roots: refused by the REST API (HTTP 403), or as a script's
    ``outputs_dir``/``mounts`` by the executor (a non-retryable ``PermissionDenied`` task error)."""


class APIError(GleitzeitError):
    """The REST API answered with a status we did not expect."""

    def __init__(self, message: str, *, status_code: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.body = body
