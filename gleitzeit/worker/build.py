"""Build the Temporal Worker that runs Gleitzeit's workflows and activities."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from gleitzeit.activities.llm import LlmActivities
from gleitzeit.config import Settings
from gleitzeit.worker.interceptor import RetryDelayInterceptor
from gleitzeit.workflows import WORKFLOWS

__all__ = ["WORKFLOW_RUNNER", "build_worker", "task_activities"]

# Importing a workflow module in the sandbox runs ``gleitzeit/__init__``, which imports the pydantic
# models of gleitzeit.core; re-creating those classes for every new workflow run cost ~15-20 ms of each
# run's first workflow task. They hold no workflow code and no state, so they are shared (passed
# through); the workflow modules themselves stay sandboxed, with every determinism check.
WORKFLOW_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("gleitzeit.core")
)


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
        **{"workflow_runner": WORKFLOW_RUNNER, **kwargs},
    )
