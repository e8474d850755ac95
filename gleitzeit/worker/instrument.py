"""Worker interceptor that records Gleitzeit's metrics (gleitzeit.core.metrics) for every activity attempt.

One place sees every attempt with its activity type, attempt number, result and error, so the
activities carry no metrics code. What it costs per attempt: two ``perf_counter`` calls and a handful
of label lookups (a few microseconds, against a python step of ~20 ms; ``bench`` compares the two).
LLM results carry their model and token counts; the host is the worker's ``OLLAMA_HOST``.
"""

from __future__ import annotations

import time
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError
from temporalio.worker import ActivityInboundInterceptor, ExecuteActivityInput, Interceptor

from gleitzeit.core import metrics

__all__ = ["MetricsInterceptor"]


class MetricsInterceptor(Interceptor):
    """Counts attempts, failures and retries per activity type; times LLM calls and scripts."""

    def __init__(self, llm_host: str) -> None:
        self.llm_host = llm_host

    def intercept_activity(self, next: ActivityInboundInterceptor) -> ActivityInboundInterceptor:
        return _MetricsInbound(next, self.llm_host)


class _MetricsInbound(ActivityInboundInterceptor):
    def __init__(self, next: ActivityInboundInterceptor, llm_host: str) -> None:
        super().__init__(next)
        self._llm_host = llm_host

    async def execute_activity(self, input: ExecuteActivityInput) -> Any:
        info = activity.info()
        method = info.activity_type
        metrics.TASKS_STARTED.labels(method).inc()
        if info.attempt > 1:
            metrics.TASKS_RETRIED.labels(method).inc()
        started = time.perf_counter()
        try:
            result = await super().execute_activity(input)
        except BaseException as exc:
            elapsed = time.perf_counter() - started
            error_type, retryable = _classify(exc)
            metrics.TASKS_FAILED.labels(method, error_type, retryable).inc()
            metrics.TASK_DURATION.labels(method).observe(elapsed)
            if method == "python.execute":
                executor = _detail(exc, "executor") or "unknown"
                metrics.SCRIPT_DURATION.labels(executor, error_type).observe(elapsed)
            raise
        elapsed = time.perf_counter() - started
        metrics.TASKS_COMPLETED.labels(method).inc()
        metrics.TASK_DURATION.labels(method).observe(elapsed)
        self._record_result(method, input, result, elapsed)
        return result

    def _record_result(self, method: str, input: ExecuteActivityInput, result: Any, elapsed: float) -> None:
        if method.startswith("llm.") and isinstance(result, dict):
            model = str(result.get("model") or _asked_model(input) or "unknown")
            metrics.LLM_DURATION.labels(model, self._llm_host).observe(elapsed)
            prompt, completion = result.get("prompt_tokens") or 0, result.get("tokens_used") or 0
            if prompt:
                metrics.LLM_TOKENS.labels(model, self._llm_host, "prompt").inc(prompt)
            if completion:
                metrics.LLM_TOKENS.labels(model, self._llm_host, "completion").inc(completion)
        elif method == "python.execute":
            executor = getattr(result, "executor", None) or "unknown"
            duration = getattr(result, "duration", None) or elapsed
            metrics.SCRIPT_DURATION.labels(executor, "ok").observe(duration)
        elif method in ("batch.process_files", "batch.process_file"):
            outcomes = getattr(result, "outcomes", None)
            for outcome in outcomes if outcomes is not None else [result]:
                status = getattr(outcome, "status", None)
                if status:
                    metrics.BATCH_FILES.labels(status).inc()


def _classify(exc: BaseException) -> tuple[str, str]:
    """The error type and whether Temporal retries it ("true"/"false"), as label values."""
    if isinstance(exc, ApplicationError):
        return exc.type or "ApplicationError", "false" if exc.non_retryable else "true"
    # Cancellation (worker shutdown, the run cancelled) and unexpected errors stay retryable.
    return type(exc).__name__, "true"


def _detail(exc: BaseException, key: str) -> str | None:
    details = getattr(exc, "details", None) or ()
    first = details[0] if details else None
    value = first.get(key) if isinstance(first, dict) else None
    return str(value) if value else None


def _asked_model(input: ExecuteActivityInput) -> str | None:
    task = input.args[0] if input.args else None
    parameters = getattr(task, "parameters", None)
    return parameters.get("model") if isinstance(parameters, dict) else None
