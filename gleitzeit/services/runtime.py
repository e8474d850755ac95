"""The local runtime behind `gleitzeit run`, `gleitzeit dev` and the client's native mode.

Brings up what is missing, in order: the Temporal dev server (only for a local address that nothing
answers at), the embedded LLM server (only when the pipeline needs an LLM and nothing answers at
OLLAMA_HOST), and an in-process worker (when no live worker polls the task queue, or when asked).
Everything it started it stops on exit, except the dev server, which stays up so the web UI link and
the run history remain available (`gleitzeit dev --stop` ends it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from temporalio.api.enums.v1 import TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client
from temporalio.worker import Worker

from gleitzeit.config import Settings
from gleitzeit.services.connection import connect
from gleitzeit.services.temporal_dev import DevServer, ensure_dev_server
from gleitzeit.worker.build import build_worker

__all__ = ["LocalRuntime", "WorkerMode", "live_pollers"]

log = logging.getLogger(__name__)

WorkerMode = Literal["auto", "always", "never"]
# Long polls last up to 60 s, so a live worker touches the queue at least that often.
POLLER_FRESHNESS = timedelta(seconds=70)


async def live_pollers(client: Client, namespace: str, task_queue: str) -> int:
    """How many workers polled the workflow task queue recently (stale pollers of dead workers excluded)."""
    try:
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
    except Exception:
        return 0
    now = datetime.now(UTC)
    fresh = 0
    for poller in answer.pollers:
        seen = poller.last_access_time.ToDatetime(tzinfo=UTC)
        if now - seen < POLLER_FRESHNESS:
            fresh += 1
    return fresh


class LocalRuntime:
    """``async with LocalRuntime(settings, need_llm=True) as rt: rt.client ...``"""

    def __init__(
        self,
        settings: Settings,
        *,
        worker: WorkerMode = "auto",
        need_llm: bool = False,
        worker_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.worker_mode = worker
        self.need_llm = need_llm
        self.worker_kwargs = worker_kwargs or {}
        self.client: Client | None = None
        self.dev_server: DevServer | None = None
        self.llm_server: Any = None
        self.worker: Worker | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self.notes: list[str] = []  # what was started, for the CLI to tell the user

    async def __aenter__(self) -> LocalRuntime:
        self.dev_server = await ensure_dev_server(self.settings)
        if self.dev_server:
            self.notes.append(
                f"started the Temporal dev server (pid {self.dev_server.pid}, data {self.dev_server.db_file}, "
                f"web UI {self.dev_server.ui_url})"
            )
        self.client = await connect(self.settings)
        if self.need_llm and self.settings.auto_start_llm:
            from gleitzeit.services.llm import ensure_llm_server

            self.llm_server = await ensure_llm_server(self.settings)
            if self.llm_server is not None:
                self.notes.append(f"started the embedded LLM server at {self.llm_server.url}")
        if self.worker_mode == "always" or (
            self.worker_mode == "auto"
            and await live_pollers(self.client, self.settings.namespace, self.settings.task_queue) == 0
        ):
            await self.start_worker()
        return self

    async def start_worker(self) -> Worker:
        assert self.client is not None
        self.worker = build_worker(self.client, self.settings, **self.worker_kwargs)
        self._worker_task = asyncio.create_task(self.worker.run())
        self.notes.append(f"started an in-process worker on task queue '{self.settings.task_queue}'")
        return self.worker

    async def ensure_progress(self, handle: Any, grace: float = 5.0) -> bool:
        """In auto mode, start an in-process worker if nobody picked the run up within ``grace`` s.

        The task queue's poller list still shows a worker that exited a minute ago, so "someone polls"
        is not proof of a live worker; a run whose first workflow task is still untouched is. Returns
        True when a worker was started here.
        """
        if self.worker is not None or self.worker_mode != "auto":
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while loop.time() < deadline:
            description = await handle.describe()
            if description.raw_description.workflow_execution_info.history_length > 2:
                return False  # a workflow task completed: a live worker has it
            await asyncio.sleep(0.2)
        await self.start_worker()
        self.notes.append(f"no worker picked the run up within {grace:.0f} s; started one in-process")
        return True

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self.worker is not None and self._worker_task is not None:
            with contextlib.suppress(Exception):
                await self.worker.shutdown()
            with contextlib.suppress(BaseException):
                await self._worker_task
            self.worker = None
        if self.llm_server is not None:
            with contextlib.suppress(Exception):
                result = self.llm_server.stop()
                if asyncio.iscoroutine(result):
                    await result
            self.llm_server = None
