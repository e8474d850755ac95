"""Build the Temporal Worker that runs Gleitzeit's workflows and activities."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker

from gleitzeit.activities.llm import LlmActivities
from gleitzeit.config import Settings
from gleitzeit.worker.interceptor import RetryDelayInterceptor
from gleitzeit.workflows import WORKFLOWS

__all__ = ["build_worker", "task_activities"]


def task_activities(settings: Settings) -> list[Callable[..., Any]]:
    """Every activity a worker registers, bound to ``settings``."""
    from gleitzeit.activities.files import FileActivities
    from gleitzeit.activities.python import PythonActivities

    llm, python = LlmActivities(settings), PythonActivities(settings)
    return [*llm.all(), python.execute, *FileActivities(settings, llm, python).all()]


def build_worker(
    client: Client,
    settings: Settings,
    *,
    task_queue: str | None = None,
    activities: Sequence[Callable[..., Any]] | None = None,
    extra_workflows: Sequence[type] = (),
    max_concurrent_activities: int = 100,
    **kwargs: Any,
) -> Worker:
    """A worker for ``task_queue`` (default: settings.task_queue).

    ``activities`` replaces the real ones (tests register doubles under the same names);
    ``extra_workflows`` are registered next to Gleitzeit's own (the benchmarks' hand-written yardstick).
    """
    return Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[*WORKFLOWS, *extra_workflows],
        activities=list(activities if activities is not None else task_activities(settings)),
        interceptors=[RetryDelayInterceptor()],
        max_concurrent_activities=max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=10),
        **kwargs,
    )
