"""Map a task's YAML `timeout` and `retry` onto Temporal activity options, with per-method defaults.

Pure functions: imported by the workflow (deterministic) and by tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from temporalio.common import RetryPolicy

from gleitzeit.contracts.spec import RetrySpec, TaskSpec
from gleitzeit.dsl.methods import method_info

__all__ = [
    "NON_RETRYABLE_TYPES",
    "SCRIPT_GRACE_SECONDS",
    "SCRIPT_RETRYABLE_TYPES",
    "ActivityOptions",
    "activity_options",
    "non_retryable_types",
    "retry_delay",
]

# A python task's attempt may take the script's own limit plus container start and clean-up.
SCRIPT_GRACE_SECONDS = 30.0
# Errors that no retry can fix, whatever the activity said. The order is what recorded histories hold.
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
# A script's own failure (non-zero exit, uncaught exception) and its timeout: a script that calls a
# flaky service may well pass next time, so a task that declares a `retry` block gets it for these.
# Without one a python task keeps a single attempt of its script (running it again usually gives the
# same answer). Out of memory stays final: the same data under the same limit fails again, and the
# fix is the task's `memory`. The activity raises exactly these retryable (ScriptFailure.retryable).
SCRIPT_RETRYABLE_TYPES = ("ScriptError", "ScriptTimeout")


@dataclass(frozen=True)
class ActivityOptions:
    start_to_close: timedelta
    heartbeat: timedelta
    retry_policy: RetryPolicy
    script_timeout: float | None  # for python tasks: the limit the executor enforces


def default_retry(task: TaskSpec) -> RetrySpec:
    info = method_info(task.method)
    return task.retry or RetrySpec(max_attempts=info.default_max_attempts, base_delay=1.0, max_delay=60.0)


def non_retryable_types(task: TaskSpec) -> list[str]:
    """The error types Temporal must not retry for ``task``: a declared ``retry`` block on a python
    task lets a script's own failure and timeout be retried; every other list stays as it was."""
    if task.retry is not None and method_info(task.method).family == "python":
        return [t for t in NON_RETRYABLE_TYPES if t not in SCRIPT_RETRYABLE_TYPES]
    return list(NON_RETRYABLE_TYPES)


def activity_options(task: TaskSpec, fallback: RetrySpec | None = None) -> ActivityOptions:
    """Timeouts and RetryPolicy of ``task``'s activity; ``fallback`` is the retry when the task
    declares none (the batch form's ``max_attempts``), else the method's default."""
    info = method_info(task.method)
    retry = task.retry or fallback or default_retry(task)
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
        non_retryable_error_types=non_retryable_types(task),
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
