"""Map a task's YAML `timeout` and `retry` onto Temporal activity options, with per-method defaults.

Pure functions: imported by the workflow (deterministic) and by tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.common import RetryPolicy

from gleitzeit.contracts.spec import RetrySpec, TaskSpec
from gleitzeit.dsl.methods import method_info

__all__ = ["SCRIPT_GRACE_SECONDS", "ActivityOptions", "activity_options", "retry_delay"]

# A python task's attempt may take the script's own limit plus container start and clean-up.
SCRIPT_GRACE_SECONDS = 30.0
# Errors that no retry can fix, whatever the activity said.
NON_RETRYABLE_TYPES = [
    "ValidationError",
    "InvalidParameters",
    "ModelNotFound",
    "FileNotFound",
    "FileNotReadable",
    "ResultTooLarge",
    "ScriptError",
    "ScriptTimeout",
    "ScriptOOM",
    "ScriptBadOutput",
    "ScriptNotFound",
]


@dataclass(frozen=True)
class ActivityOptions:
    start_to_close: timedelta
    heartbeat: timedelta
    retry_policy: RetryPolicy
    script_timeout: float | None  # for python tasks: the limit the executor enforces


def default_retry(task: TaskSpec) -> RetrySpec:
    info = method_info(task.method)
    return task.retry or RetrySpec(max_attempts=info.default_max_attempts, base_delay=1.0, max_delay=60.0)


def activity_options(task: TaskSpec) -> ActivityOptions:
    info = method_info(task.method)
    retry = default_retry(task)
    script_timeout: float | None = None
    if info.family == "python":
        raw = task.parameters.get("timeout")
        param_timeout = float(raw) if isinstance(raw, int | float) else None
        script_timeout = param_timeout or task.timeout or info.default_timeout
        start_to_close = max(task.timeout or 0.0, script_timeout) + SCRIPT_GRACE_SECONDS
    else:
        start_to_close = task.timeout or info.default_timeout
    # Temporal only knows exponential backoff; fixed is a coefficient of 1 and linear is done by the
    # worker's interceptor through next_retry_delay (see gleitzeit.worker.interceptor).
    coefficient = 2.0 if retry.backoff == "exponential" else 1.0
    policy = RetryPolicy(
        initial_interval=timedelta(seconds=retry.base_delay),
        backoff_coefficient=coefficient,
        maximum_interval=timedelta(seconds=max(retry.max_delay, retry.base_delay)),
        maximum_attempts=retry.max_attempts,
        non_retryable_error_types=NON_RETRYABLE_TYPES,
    )
    return ActivityOptions(
        start_to_close=timedelta(seconds=start_to_close),
        heartbeat=timedelta(seconds=info.heartbeat_timeout),
        retry_policy=policy,
        script_timeout=script_timeout,
    )


def retry_delay(retry: RetrySpec, attempt: int, jitter_fraction: float = 0.0) -> float:
    """Delay before the attempt after ``attempt`` (1-based), per the YAML backoff, capped at max_delay.

    ``jitter_fraction`` in [-1, 1] scales a +-20 % jitter when the spec asks for jitter.
    """
    if retry.backoff == "fixed":
        delay = retry.base_delay
    elif retry.backoff == "linear":
        delay = retry.base_delay * attempt
    else:
        delay = retry.base_delay * 2 ** (attempt - 1)
    delay = min(delay, retry.max_delay)
    if retry.jitter:
        delay *= 1.0 + 0.2 * max(-1.0, min(1.0, jitter_fraction))
    return max(delay, 0.0)
