"""Worker interceptors: the YAML retry block's backoff and jitter, and the attempt number on failures;
large task results offloaded to the data dir (``OffloadInterceptor``).

Temporal owns the retries; this only tells it *when* to retry (``next_retry_delay``) for backoffs its
RetryPolicy cannot express (linear, jitter), and records the attempt on the failure so the workflow can
say "failed after N attempts".
"""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError, CancelledError
from temporalio.worker import (
    ActivityInboundInterceptor,
    ExecuteActivityInput,
    Interceptor,
)

from gleitzeit.activities.offload import offload_result, resolve_parameters
from gleitzeit.config import Settings
from gleitzeit.contracts.tasks import TaskInput
from gleitzeit.core.errors import NotFoundError, ValidationError
from gleitzeit.workflows.policies import retry_delay

__all__ = ["OffloadInterceptor", "RetryDelayInterceptor"]


class OffloadInterceptor(Interceptor):
    """Around every task activity (its input a ``TaskInput``: python, llm, mcp alike): resolve the
    deferred references to offloaded results in its parameters before it runs, and offload its result
    when it is over ``offload_threshold_bytes`` (gleitzeit.activities.offload). Batch activities
    (other inputs) pass untouched."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _OffloadInbound(next, self._settings)


class _OffloadInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, settings: Settings) -> None:
        super().__init__(next)
        self._settings = settings

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        task = input.args[0] if len(input.args) == 1 else None
        if not isinstance(task, TaskInput):
            return await super().execute_activity(input)
        if task.deferred:
            try:
                task = await resolve_parameters(task, self._settings)
            except (NotFoundError, ValidationError) as exc:
                # Bad input for this task: retrying on this worker cannot fix it.
                raise ApplicationError(
                    f"task '{task.task_id}': {exc}", type=type(exc).__name__, non_retryable=True
                ) from None
            input.args = [task]
        result = await super().execute_activity(input)
        return await offload_result(result, task, self._settings)


class RetryDelayInterceptor(Interceptor):
    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _RetryDelayInbound(next)


class _RetryDelayInbound(ActivityInboundInterceptor):
    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        try:
            return await super().execute_activity(input)
        except (CancelledError, ApplicationError) as exc:
            if isinstance(exc, CancelledError):
                raise
            raise _with_attempt(exc, input) from exc.__cause__
        except Exception as exc:
            # Unexpected errors stay retryable (Temporal's default), with our delay and the attempt.
            wrapped = ApplicationError(f"{type(exc).__name__}: {exc}", type=type(exc).__name__)
            raise _with_attempt(wrapped, input) from exc


def _with_attempt(exc: ApplicationError, input: ExecuteActivityInput) -> ApplicationError:
    attempt = activity.info().attempt
    details = list(exc.details)
    if details and isinstance(details[0], dict):
        details[0] = {**details[0], "attempt": attempt}
    else:
        details.insert(0, {"attempt": attempt})
    next_delay = exc.next_retry_delay
    task = input.args[0] if input.args else None
    if not exc.non_retryable and next_delay is None and isinstance(task, TaskInput) and task.retry:
        spec = task.retry
        if spec.backoff == "linear" or spec.jitter:
            next_delay = timedelta(seconds=retry_delay(spec, attempt, random.uniform(-1.0, 1.0)))
    return ApplicationError(
        exc.message,
        *details,
        type=exc.type,
        non_retryable=exc.non_retryable,
        next_retry_delay=next_delay,
        category=exc.category,
    )
