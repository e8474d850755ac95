"""Build the Temporal Worker that runs Gleitzeit's workflows and activities."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import timedelta
from typing import Any

from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker, WorkflowRunner
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from gleitzeit.activities.llm import LlmActivities
from gleitzeit.batch.workflow import BatchWorkflow
from gleitzeit.config import Settings
from gleitzeit.contracts.heartbeat import HEARTBEAT_THROTTLE
from gleitzeit.core.version import __version__
from gleitzeit.executors.leftovers import sweep_stale_workspaces
from gleitzeit.worker.instrument import MetricsInterceptor
from gleitzeit.worker.interceptor import OffloadInterceptor, RetryDelayInterceptor
from gleitzeit.worker.registry import remember
from gleitzeit.workflows.dag import DagWorkflow

__all__ = [
    "SANDBOXED_RUNNER",
    "UNSANDBOXED_RUNNER",
    "WORKFLOWS",
    "build_worker",
    "task_activities",
    "workflow_runner",
]

# Every workflow class a worker registers.
WORKFLOWS: tuple[type, ...] = (DagWorkflow, BatchWorkflow)

# Importing a workflow module in the sandbox runs ``gleitzeit/__init__``, which imports the pydantic
# models of gleitzeit.core; re-creating those classes for every new workflow run cost ~15-20 ms of each
# run's first workflow task. They hold no workflow code and no state, so they are shared (passed
# through); the workflow modules themselves stay sandboxed, with every determinism check.
SANDBOXED_RUNNER = SandboxedWorkflowRunner(
    restrictions=SandboxRestrictions.default.with_passthrough_modules("gleitzeit.core")
)
UNSANDBOXED_RUNNER = UnsandboxedWorkflowRunner()
# Without a build id the SDK makes one by reading and hashing the bytecode of every loaded module
# (~1,100 of them): 0.3-0.9 s of every process that builds a worker, i.e. of every `gleitzeit run`
# (measured 0.94 s of a 1.6 s build_worker on a loaded 2-core machine). Workers do not use
# build-id versioning, so the id only labels the worker in histories: our version says enough.
BUILD_ID = f"gleitzeit-{__version__}"
_log = logging.getLogger(__name__)


def workflow_runner(settings: Settings) -> WorkflowRunner:
    """The sandbox-free runner unless ``settings.workflow_sandbox``.

    Why workers run without Temporal's sandbox by default: users never write workflow code here, they
    write YAML that two fixed interpreters (DagWorkflow, BatchWorkflow) read as data. The sandbox guards
    against non-deterministic workflow *code*; ours is checked in CI instead, with the sandbox on: the
    time-skipping workflow tests run sandboxed and every recorded history is replayed by the (sandboxed)
    Replayer. What the sandbox costs every run is real: re-importing the workflow module and an
    ``exec`` per activation and per payload, ~5 ms of each run (a durable ``chat()`` +21 -> +16 ms).
    ``GLEITZEIT_WORKFLOW_SANDBOX=true`` turns it back on.
    """
    return SANDBOXED_RUNNER if settings.workflow_sandbox else UNSANDBOXED_RUNNER


def task_activities(settings: Settings) -> list[Callable[..., Any]]:
    """Every activity a worker registers, bound to ``settings``."""
    from gleitzeit.activities.mcp import McpActivities
    from gleitzeit.activities.python import PythonActivities
    from gleitzeit.batch.activities import BatchActivities

    llm, python = LlmActivities(settings), PythonActivities(settings)
    return [
        *llm.all(),
        python.execute,
        *McpActivities(settings).all(),
        *BatchActivities(settings, llm, python).all(),
    ]


def build_worker(
    client: Client,
    settings: Settings,
    *,
    task_queue: str | None = None,
    activities: Sequence[Callable[..., Any]] | None = None,
    extra_workflows: Sequence[type] = (),
    max_concurrent_activities: int = 100,
    metrics: bool = True,
    **kwargs: Any,
) -> Worker:
    """A worker for ``task_queue`` (default: settings.task_queue).

    ``activities`` replaces the real ones (tests register doubles under the same names);
    ``extra_workflows`` are registered next to Gleitzeit's own (the benchmarks' hand-written yardstick);
    ``metrics=False`` leaves out the metrics interceptor (the benchmark measures what it costs).
    Script workspaces that killed workers of this machine left behind are removed first (every way of
    running a worker comes through here: ``gleitzeit worker``, the in-process worker, one's own), and
    the worker is remembered for liveness checks (``gleitzeit.worker.registry``).
    """
    swept = sweep_stale_workspaces()
    if swept:
        _log.info("removed %d script workspace(s) left by killed workers", swept)
    interceptors: list[Any] = [RetryDelayInterceptor(), OffloadInterceptor(settings)]
    if metrics:
        # Outermost: it sees each attempt's error as Temporal gets it.
        interceptors.insert(0, MetricsInterceptor(settings.ollama_host))
    worker = Worker(
        client,
        task_queue=task_queue or settings.task_queue,
        workflows=[*WORKFLOWS, *extra_workflows],
        activities=list(activities if activities is not None else task_activities(settings)),
        interceptors=interceptors,
        max_concurrent_activities=max_concurrent_activities,
        graceful_shutdown_timeout=timedelta(seconds=10),
        **{
            "workflow_runner": workflow_runner(settings),
            "max_heartbeat_throttle_interval": timedelta(seconds=HEARTBEAT_THROTTLE),
            **({} if "deployment_config" in kwargs else {"build_id": BUILD_ID}),
            **kwargs,
        },
    )
    return remember(worker)
