"""Gleitzeit: durable LLM and Python pipelines from YAML, on Temporal.

    from gleitzeit import GleitzeitClient

    async with GleitzeitClient() as client:
        print(await client.chat("What is Python?"))

The client and the data models are imported lazily (on first access of ``GleitzeitClient``,
``WorkflowExecution``, ...): workflow code imports ``gleitzeit.*`` modules inside Temporal's sandbox,
which must not pull in the whole client stack, and every ``gleitzeit`` command (``gleitzeit --help``,
``gleitzeit validate``) imports this package first, so what it imports is paid on every start.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from gleitzeit.core.errors import (
    APIError,
    AuthenticationError,
    ConfigurationError,
    ConflictError,
    DockerUnavailableError,
    ExecutionError,
    GleitzeitError,
    LLMUnavailableError,
    McpServerError,
    ModelNotFoundError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    Problem,
    ScriptError,
    ServiceUnavailableError,
    TaskExecutionError,
    TemporalUnavailableError,
    TimeoutError,
    ValidationError,
    WorkflowCancelledError,
    WorkflowExecutionError,
    WorkflowNotFoundError,
)
from gleitzeit.core.version import __version__

if TYPE_CHECKING:
    from gleitzeit.client import BatchResults, GleitzeitClient, WorkflowResults, WorkflowRun
    from gleitzeit.core.models import (
        LogEvent,
        Task,
        TaskResult,
        TaskStatus,
        WorkflowExecution,
        WorkflowStatus,
        WorkflowSummary,
    )


__all__ = [
    "APIError",
    "AuthenticationError",
    "BatchResults",
    "ConfigurationError",
    "ConflictError",
    "DockerUnavailableError",
    "ExecutionError",
    "GleitzeitClient",
    "GleitzeitError",
    "LLMUnavailableError",
    "LogEvent",
    "McpServerError",
    "ModelNotFoundError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "Problem",
    "ScriptError",
    "ServiceUnavailableError",
    "Task",
    "TaskExecutionError",
    "TaskResult",
    "TaskStatus",
    "TemporalUnavailableError",
    "TimeoutError",
    "ValidationError",
    "WorkflowCancelledError",
    "WorkflowExecution",
    "WorkflowExecutionError",
    "WorkflowNotFoundError",
    "WorkflowResults",
    "WorkflowRun",
    "WorkflowStatus",
    "WorkflowSummary",
    "__version__",
]

# Name -> the module that holds it, imported on first access.
_LAZY = {
    **dict.fromkeys(
        ("BatchResults", "GleitzeitClient", "WorkflowResults", "WorkflowRun"), "gleitzeit.client"
    ),
    **dict.fromkeys(
        (
            "LogEvent",
            "Task",
            "TaskResult",
            "TaskStatus",
            "WorkflowExecution",
            "WorkflowStatus",
            "WorkflowSummary",
        ),
        "gleitzeit.core.models",
    ),
}


def __getattr__(name: str) -> Any:
    home = _LAZY.get(name)
    if home is not None:
        value = getattr(importlib.import_module(home), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'gleitzeit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
