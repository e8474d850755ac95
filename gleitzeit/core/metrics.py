"""Gleitzeit's own Prometheus metrics: one definition of each family, recorded by the worker.

The families live in prometheus_client's default registry, so ``gleitzeit worker --metrics-port`` and
the API's ``GET /metrics`` expose them next to the process collectors and (through
``gleitzeit.worker.telemetry``) the Temporal SDK's runtime metrics. Names follow Prometheus'
conventions: a ``gleitzeit_`` prefix, base units in the name (``_seconds``), counters end in
``_total`` (prometheus_client appends it). Label values are bounded: the activity type
(``llm.chat``, ``python.execute``), the model, the LLM host, the executor, an error type, a
batch file's status; never a workflow id, a task id or a file name.

The worker's interceptor (``gleitzeit.worker.instrument``) is the one place that records them, so the
activities stay free of metrics code and the hot path costs a few dictionary lookups per attempt.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram, disable_created_metrics

__all__ = [
    "BATCH_FILES",
    "LLM_DURATION",
    "LLM_TOKENS",
    "METRIC_NAMES",
    "SCRIPT_DURATION",
    "TASKS_COMPLETED",
    "TASKS_FAILED",
    "TASKS_RETRIED",
    "TASKS_STARTED",
    "TASK_DURATION",
]

# `_created` timestamps double every counter's series and no dashboard uses them.
disable_created_metrics()

# An LLM answer takes from ~0.1 s (a cached short reply) to minutes (a long one on a CPU).
_LLM_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0)
# A forked trivial script takes ~5 ms, a Docker sandbox ~0.7 s to start, the default timeout is 60 s.
_SCRIPT_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)

TASKS_STARTED = Counter(
    "gleitzeit_tasks_started", "Task attempts started by this worker, by activity type.", ["method"]
)
TASKS_COMPLETED = Counter(
    "gleitzeit_tasks_completed", "Task attempts that completed, by activity type.", ["method"]
)
TASKS_FAILED = Counter(
    "gleitzeit_tasks_failed",
    "Task attempts that failed, by activity type, error type and whether Temporal retries them.",
    ["method", "error_type", "retryable"],
)
TASKS_RETRIED = Counter(
    "gleitzeit_task_retries",
    "Task attempts after the first (attempt > 1): Temporal's retries, by activity type.",
    ["method"],
)
TASK_DURATION = Histogram(
    "gleitzeit_task_duration_seconds",
    "Wall time of one task attempt on this worker, by activity type.",
    ["method"],
    buckets=_SCRIPT_BUCKETS,
)
LLM_DURATION = Histogram(
    "gleitzeit_llm_request_duration_seconds",
    "Wall time of one LLM task attempt (request to last token), by model and LLM host.",
    ["model", "host"],
    buckets=_LLM_BUCKETS,
)
LLM_TOKENS = Counter(
    "gleitzeit_llm_tokens",
    "Tokens the LLM server reported, by model, host and kind (prompt or completion).",
    ["model", "host", "kind"],
)
SCRIPT_DURATION = Histogram(
    "gleitzeit_script_duration_seconds",
    "Wall time of one python/execute attempt, by executor and how it ended (ok, or the error type).",
    ["executor", "exit_kind"],
    buckets=_SCRIPT_BUCKETS,
)
BATCH_FILES = Counter(
    "gleitzeit_batch_files",
    "Files a batch chunk finished, by status (completed, skipped_existing, failed, retry).",
    ["status"],
)

# Every family's exposed name (counters with their ``_total``): the dashboard and the Prometheus
# configuration in deploy/ are checked against this list.
METRIC_NAMES: tuple[str, ...] = (
    "gleitzeit_tasks_started_total",
    "gleitzeit_tasks_completed_total",
    "gleitzeit_tasks_failed_total",
    "gleitzeit_task_retries_total",
    "gleitzeit_task_duration_seconds",
    "gleitzeit_llm_request_duration_seconds",
    "gleitzeit_llm_tokens_total",
    "gleitzeit_script_duration_seconds",
    "gleitzeit_batch_files_total",
)
