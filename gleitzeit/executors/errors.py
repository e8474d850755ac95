"""The errors of running a script: what the ``python.execute`` activity reports to Temporal as its type."""

from __future__ import annotations

from typing import Any

from gleitzeit.core.errors import (
    ConfigurationError,
    NotFoundError,
    PermissionDeniedError,
    Problem,
    ScriptError,
    ValidationError,
)
from gleitzeit.core.errors import TimeoutError as GleitzeitTimeoutError

__all__ = [
    "InvalidScriptParameters",
    "SandboxImageMissing",
    "SandboxRefused",
    "ScriptBadOutput",
    "ScriptFailure",
    "ScriptNotFound",
    "ScriptOOM",
    "ScriptTimeout",
]


class ScriptFailure(ScriptError):
    """A script attempt failed: the script's own failure, or a task that cannot run.

    ``kind`` is the error type the activity reports to Temporal (``ScriptError``, ``ScriptTimeout``,
    ``ScriptOOM``, ``ScriptBadOutput``, ``ScriptNotFound``, ``InvalidParameters``, ``PermissionDenied``);
    ``executor`` says where the script ran (``docker`` or ``local``). ``retryable``: whether another attempt
    can help (a script's own failure and its timeout, e.g. a flaky service it calls); the task's retry policy
    then decides (one attempt unless the task declares ``retry``). The rest never runs again.
    """

    kind = "ScriptError"
    retryable = True

    def __init__(
        self,
        message: str,
        *,
        exit_code: int | None = None,
        stderr_tail: str | None = None,
        executor: str | None = None,
        task_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            exit_code=exit_code,
            stderr_tail=stderr_tail,
            task_id=task_id,
            cause=stderr_tail or message,
            cause_type=self.kind,
        )
        self.executor = executor

    def details(self) -> dict[str, Any]:
        """The structured part of the error, as the activity attaches it to its ApplicationError."""
        return {"exit_code": self.exit_code, "stderr_tail": self.stderr_tail, "executor": self.executor}


class ScriptTimeout(ScriptFailure, GleitzeitTimeoutError):
    """The script ran longer than its timeout; its processes (or container) were killed."""

    kind = "ScriptTimeout"


class ScriptOOM(ScriptFailure):
    """The script ran out of memory (killed by the memory limit, or a Python MemoryError)."""

    kind = "ScriptOOM"
    # The same data under the same memory limit runs out again; the fix is the task's `memory`.
    retryable = False


class ScriptBadOutput(ScriptFailure):
    """The script finished but its output is not a usable result (bad JSON, too large)."""

    kind = "ScriptBadOutput"
    retryable = False


class ScriptNotFound(ScriptFailure, NotFoundError):
    """The script file does not exist at any of the places looked at."""

    kind = "ScriptNotFound"
    retryable = False


class SandboxRefused(ScriptFailure, PermissionDeniedError):
    """A path the task gives the script (``outputs_dir``, ``mounts``) lies outside the file roots, or
    cannot be created there, or the script file lies outside them; the message names the task and the
    roots."""

    kind = "PermissionDenied"
    # The roots do not change between attempts.
    retryable = False


class InvalidScriptParameters(ScriptFailure, ValidationError):
    """The task's parameters for ``python/execute`` are invalid (``problems`` says which)."""

    kind = "InvalidParameters"
    retryable = False

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        hint: str | None = None,
        task_id: str | None = None,
        executor: str | None = None,
    ) -> None:
        super().__init__(message, task_id=task_id, executor=executor)
        self.problems = [Problem(message, task=task_id, key=f"parameters.{key}" if key else None, hint=hint)]


class SandboxImageMissing(ConfigurationError):
    """The Docker engine answers but the sandbox image does not exist there."""

    kind = "SandboxImageMissing"
