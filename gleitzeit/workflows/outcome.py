"""How a run's outcome is told: an activity failure's message, type and attempts, and the workflow's
result kept under the payload limit (pure functions, shared by DagWorkflow and the batch workflow)."""

from __future__ import annotations

import json
from typing import Any

from temporalio.exceptions import ActivityError, ApplicationError, CancelledError, TimeoutError

from gleitzeit.contracts.dag import DagResult

__all__ = ["MAX_RESULT_BYTES", "describe_failure", "fit_result", "result_size"]

# The workflow's own result is one payload (2 MiB hard limit); keep headroom.
MAX_RESULT_BYTES = 1_500_000


def describe_failure(exc: ActivityError | ApplicationError, max_attempts: int) -> tuple[str, str, int | None]:
    """(message, error type, attempts) from an activity failure's cause chain."""
    attempts: int | None = None
    if isinstance(exc, ApplicationError):
        cause: BaseException | None = exc
    else:
        cause = exc.cause
        if exc.retry_state is not None and exc.retry_state.name == "MAXIMUM_ATTEMPTS_REACHED":
            attempts = max_attempts
    if isinstance(cause, ApplicationError):
        if cause.details and isinstance(cause.details[0], dict):
            attempts = cause.details[0].get("attempt", attempts)
        return cause.message, cause.type or "ApplicationError", attempts
    if isinstance(cause, TimeoutError):
        kind = cause.type.name.lower().replace("_", "-") if cause.type else "timeout"
        return f"activity {kind} timeout", "Timeout", attempts
    if isinstance(cause, CancelledError):
        return "cancelled", "Cancelled", attempts
    return str(cause or exc), type(cause or exc).__name__, attempts


def result_size(value: Any) -> int:
    return len(json.dumps(value, default=str))


def fit_result(result: DagResult) -> DagResult:
    """Keep the workflow's result under the payload limit: replace the largest task results by a
    marker (they stay in the history and the web UI) and say so in ``warnings``.

    The size is measured once and then kept up to date per replaced result (each value is dumped
    into the whole exactly as on its own), so a fan-out of 1,000 results of 10 KB costs one pass, not
    one whole dump per omitted result."""
    total = result_size(result.model_dump(mode="json"))
    if total <= MAX_RESULT_BYTES:
        return result
    results = dict(result.results)
    warnings = list(result.warnings)
    sizes = {task_id: result_size(value) for task_id, value in results.items()}
    for task_id in sorted(results, key=lambda k: (-sizes[k], k)):
        size = sizes[task_id]
        marker = {"$omitted": True, "size": size}
        results[task_id] = marker
        warning = (
            f"result of task '{task_id}' ({size} bytes) omitted from the workflow result; "
            "see the activity's result in the history or select what you need with outputs:"
        )
        warnings.append(warning)
        # The marker replaces the value; the warning joins the list (", " before all but the first).
        total += result_size(marker) - size + result_size(warning) + (2 if len(warnings) > 1 else 0)
        if total <= MAX_RESULT_BYTES:
            break
    return result.model_copy(update={"results": results, "warnings": warnings})
