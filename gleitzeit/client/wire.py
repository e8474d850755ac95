"""Errors and results on the wire between the REST API and the api-mode client.

The server answers every failure with ``{"error": {"type": ..., "message": ..., ...}}``; the client
rebuilds the same ``gleitzeit.core.errors`` class with its attributes (task id, attempts, cause,
problems ...), so code catching errors works unchanged in native and api mode.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from gleitzeit.core import errors as errs
from gleitzeit.core.errors import GleitzeitError, Problem

__all__ = ["STATUS_OF", "error_from_dict", "error_to_dict", "http_status"]

# Most specific first: the first class an error is an instance of decides the status.
STATUS_OF: list[tuple[type[GleitzeitError], int]] = [
    (errs.AuthenticationError, 401),
    (errs.PermissionDeniedError, 403),
    (errs.PayloadTooLargeError, 413),
    (errs.ValidationError, 422),
    (errs.NotFoundError, 404),
    (errs.ConflictError, 409),
    (errs.TimeoutError, 504),
    (errs.ServiceUnavailableError, 503),
    # A task or the run failed: the request was fine, what it depended on failed.
    (errs.ExecutionError, 424),
    (errs.ConfigurationError, 500),
    (errs.APIError, 502),
]

_ATTRIBUTES = (
    "task_id",
    "attempts",
    "cause",
    "cause_type",
    "workflow_id",
    "partial_results",
    "exit_code",
    "stderr_tail",
    "status_code",
)


def http_status(exc: GleitzeitError) -> int:
    for cls, status in STATUS_OF:
        if isinstance(exc, cls):
            return status
    return 500


def error_to_dict(exc: BaseException) -> dict[str, Any]:
    """The JSON form of an error: its public class name, message and known attributes."""
    cls = type(exc)
    # Subclasses defined elsewhere (executors' ScriptTimeout ...) travel as their public base class.
    public = next(
        (c for c in cls.__mro__ if c.__module__ == errs.__name__ and c.__name__ in errs.__all__),
        GleitzeitError,
    )
    data: dict[str, Any] = {"type": public.__name__, "message": str(exc)}
    for name in _ATTRIBUTES:
        value = getattr(exc, name, None)
        if value not in (None, {}, []):
            data[name] = value
    if isinstance(exc, errs.ValidationError):
        data["problems"] = [dataclasses.asdict(p) for p in exc.problems]
    return data


def error_from_dict(data: dict[str, Any], *, status_code: int | None = None) -> GleitzeitError:
    """Rebuild the error ``error_to_dict`` described (an unknown type becomes APIError)."""
    name = str(data.get("type") or "")
    message = str(data.get("message") or f"the API answered {status_code}")
    cls = getattr(errs, name, None) if name in errs.__all__ else None
    if not (isinstance(cls, type) and issubclass(cls, GleitzeitError)):
        return errs.APIError(message, status_code=status_code, body=data)
    if issubclass(cls, errs.ValidationError):
        problems = [
            Problem(**{k: v for k, v in p.items() if k in Problem.__dataclass_fields__})
            for p in data.get("problems") or []
            if isinstance(p, dict) and "message" in p
        ]
        return cls(message, problems=problems)
    kwargs: dict[str, Any] = {}
    if issubclass(cls, errs.ScriptError):
        names: tuple[str, ...] = (
            "task_id",
            "attempts",
            "cause",
            "cause_type",
            "workflow_id",
            "partial_results",
            "exit_code",
            "stderr_tail",
        )
    elif issubclass(cls, errs.TaskExecutionError):
        names = ("task_id", "attempts", "cause", "cause_type", "workflow_id", "partial_results")
    elif issubclass(cls, errs.WorkflowExecutionError):
        names = ("workflow_id", "partial_results")
    elif issubclass(cls, errs.ConflictError):
        names = ("workflow_id",)
    elif issubclass(cls, errs.TimeoutError):
        names = ("task_id", "workflow_id", "partial_results")
    elif issubclass(cls, errs.APIError):
        kwargs["status_code"] = data.get("status_code", status_code)
        names = ()
    else:
        names = ()
    for key in names:
        if key in data:
            kwargs[key] = data[key]
    try:
        return cls(message, **kwargs)
    except TypeError:  # a class with another constructor: keep the type, lose the extras
        return cls(message)
