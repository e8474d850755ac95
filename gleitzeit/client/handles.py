"""``WorkflowRun``: the handle ``start_workflow`` / ``start_batch`` return, the same in both modes.

``status()``, ``progress()``, ``logs()``, ``cancel()`` ask once; ``result()`` waits. Waiting does not
spin: it asks for the result with a growing wait (``poll_interval`` times ``backoff`` per round, at most
``max_interval``), and in between calls ``on_progress`` when the progress changed and ``on_log`` with
each new log event (the polling-with-backoff idea of the Oomol SDK). The result itself comes back as
soon as the run ends, not at the next tick.
"""

from __future__ import annotations

import abc
import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any

from gleitzeit.contracts.batch import BatchProgress
from gleitzeit.contracts.dag import TaskProgress, WorkflowProgress
from gleitzeit.core.errors import GleitzeitError, TimeoutError
from gleitzeit.core.models import LogEvent, ResumePlan, WorkflowExecution, WorkflowStatus

__all__ = [
    "DEFAULT_BACKOFF",
    "DEFAULT_MAX_INTERVAL",
    "DEFAULT_POLL_INTERVAL",
    "LogCallback",
    "Progress",
    "ProgressCallback",
    "WorkflowRun",
]

DEFAULT_POLL_INTERVAL = 0.5
DEFAULT_MAX_INTERVAL = 5.0
DEFAULT_BACKOFF = 1.5
# How long waiting_tasks() waits for the run's answer to its progress query.
WAITING_QUERY_SECONDS = 3.0

Progress = WorkflowProgress | BatchProgress
ProgressCallback = Callable[[Progress], Awaitable[None] | None]
LogCallback = Callable[[LogEvent], Awaitable[None] | None]


async def _call(callback: Callable[[Any], Any], value: Any) -> None:
    outcome = callback(value)
    if inspect.isawaitable(outcome):
        await outcome


class WorkflowRun(abc.ABC):
    """A started run. ``workflow_id`` names it (also in the Temporal web UI at ``web_url``)."""

    def __init__(self, workflow_id: str, run_id: str | None = None, web_url: str | None = None) -> None:
        self.workflow_id = workflow_id
        self.run_id = run_id
        self.web_url = web_url
        # Set on a resumed run's handle: what it carries over and what it runs (see start_resume).
        self.resume_plan: ResumePlan | None = None

    @property
    def id(self) -> str:
        return self.workflow_id

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.workflow_id}>"

    @abc.abstractmethod
    async def status(self) -> WorkflowStatus:
        """The run's status now (``running``, ``completed``, ``failed``, ``cancelled`` ...)."""

    @abc.abstractmethod
    async def progress(self) -> Progress:
        """Task-by-task progress (``WorkflowProgress``), or counters for a batch (``BatchProgress``)."""

    @abc.abstractmethod
    async def logs(self) -> list[LogEvent]:
        """What happened so far, oldest first: task starts, completions, failures with times and errors."""

    @abc.abstractmethod
    async def cancel(self) -> None:
        """Ask the run to stop; tasks in flight are cancelled, finished results are kept."""

    @abc.abstractmethod
    async def approve(
        self,
        task_id: str,
        approved: bool = True,
        data: Any = None,
        reason: str | None = None,
        by: str | None = None,
    ) -> dict[str, Any]:
        """Answer the run's waiting ``human/approval`` task ``task_id``; returns the answer as recorded
        (``{approved, data, by, reason, at, timed_out}``). Refused, with nothing recorded:
        ``NotFoundError`` (no such approval task), ``ConflictError`` (not waiting: not started, already
        answered, the run ended), ``ValidationError`` (data against the task's schema, not an approver)."""

    async def waiting_tasks(self) -> list[TaskProgress]:
        """The run's tasks in state ``waiting`` (timers, and approvals with their ``prompt``); empty
        for a batch, a run without any, or one whose progress no worker can tell."""
        try:
            # Bounded: a run no worker has picked up cannot answer a query, and Temporal would hold
            # it for a long time; the waiting tasks are extra information, not worth the wait.
            progress = await asyncio.wait_for(self.progress(), WAITING_QUERY_SECONDS)
        except (GleitzeitError, asyncio.TimeoutError):  # noqa: UP041  (TimeoutError here is ours)
            return []
        if not isinstance(progress, WorkflowProgress):
            return []
        return [t for t in progress.tasks if t.state == "waiting"]

    async def waiting_for_worker(self) -> str | None:
        """Why the run waits for a worker, or None.

        A message such as "no worker is polling task queue 'gleitzeit' (start one with `gleitzeit
        worker`)" when the run's next step (its first workflow task, an activity) has been scheduled
        for more than a few seconds without a start and no live worker polls its task queue.
        """
        return None

    @abc.abstractmethod
    async def _wait_result(self, wait: float) -> WorkflowExecution | None:
        """The result if the run ends within ``wait`` seconds, else None; failures raise."""

    async def result(
        self,
        timeout: float | None = None,
        *,
        on_progress: ProgressCallback | None = None,
        on_log: LogCallback | None = None,
        poll_interval: float = DEFAULT_POLL_INTERVAL,
        max_interval: float = DEFAULT_MAX_INTERVAL,
        backoff: float = DEFAULT_BACKOFF,
    ) -> WorkflowExecution:
        """Wait for the run's ``WorkflowExecution`` (results per task, outputs, status).

        ``timeout`` (seconds) bounds the wait, not the run: on expiry ``TimeoutError`` is raised and the
        run goes on. A failed run raises ``TaskExecutionError`` (task id, attempts, cause) or another
        ``ExecutionError``; a cancelled one ``WorkflowCancelledError``. Callbacks may be plain functions
        or coroutines.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        interval = max(poll_interval, 0.01)
        last_progress: Any = None
        seen_logs = 0
        while True:
            wait = interval
            if deadline is not None:
                wait = min(wait, max(deadline - time.monotonic(), 0.0))
            done = await self._wait_result(wait)
            if on_progress is not None:
                last_progress = await self._report_progress(on_progress, last_progress)
            if on_log is not None:
                seen_logs = await self._report_logs(on_log, seen_logs)
            if done is not None:
                return done
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(
                    f"workflow {self.workflow_id} did not finish within {timeout:g} s (it is still running; "
                    "wait again or cancel it)",
                    workflow_id=self.workflow_id,
                )
            interval = min(interval * max(backoff, 1.0), max(max_interval, poll_interval))

    async def wait(self, timeout: float | None = None, **kwargs: Any) -> WorkflowExecution:
        """Alias of ``result``."""
        return await self.result(timeout, **kwargs)

    async def _report_progress(self, callback: ProgressCallback, last: Any) -> Any:
        try:
            seen = await self.progress()
        except asyncio.CancelledError:
            raise
        except Exception:  # progress is best effort: a closed run without a worker cannot answer
            return last
        dumped = seen.model_dump(mode="json")
        if dumped != last:
            await _call(callback, seen)
        return dumped

    async def _report_logs(self, callback: LogCallback, seen: int) -> int:
        try:
            events = await self.logs()
        except asyncio.CancelledError:
            raise
        except Exception:
            return seen
        for event in events[seen:]:
            await _call(callback, event)
        return max(seen, len(events))
