"""Worker interceptor: the YAML retry block's backoff and jitter, and the attempt number on failures.

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

from gleitzeit.contracts.tasks import TaskInput
from gleitzeit.workflows.policies import retry_delay

__all__ = ["RetryDelayInterceptor"]


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
