"""The local runtime behind `gleitzeit run`, `gleitzeit dev`, the client's native mode and `gleitzeit serve`.

Brings up what is missing, in order: the Temporal dev server (only for a local address that nothing
answers at), the embedded LLM server (only when the pipeline needs an LLM and nothing answers at
OLLAMA_HOST), and an in-process worker. Everything it started it stops on exit, except the dev
server, which stays up so the web UI link and the run history remain available (`gleitzeit dev
--stop` ends it).

The worker rule (``worker`` mode, default ``settings.worker``): ``always`` starts one; ``auto`` starts
one when no *live* worker polls the task queue (``gleitzeit.services.liveness``: the poller list checked
against this machine's processes, so a repeated run does not wait for a worker that exited) and the
Temporal server is ours to serve, i.e. on this machine; against a server elsewhere (a cluster) it never
starts one unasked. ``never`` starts none. When no worker will pick a run up, ``waiting`` says so
("no worker is polling task queue 'X' ..."): a run never waits silently.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING, Any

from temporalio.api.enums.v1 import PendingWorkflowTaskState
from temporalio.client import Client

from gleitzeit.config import Settings, WorkerMode
from gleitzeit.services.connection import connect
from gleitzeit.services.liveness import WorkerLiveness, waiting_message, worker_liveness
from gleitzeit.services.temporal_dev import DevServer, ensure_dev_server, is_local_address

if TYPE_CHECKING:
    from temporalio.worker import Worker

__all__ = ["PROGRESS_GRACE", "LocalRuntime", "WorkerMode", "live_pollers"]

log = logging.getLogger(__name__)

# How long ensure_progress lets a worker that looks alive (another process of this machine whose pid
# runs, a fresh poller of another machine) take to pick a run up before starting one here. A live
# worker with a free slot starts a new run's first workflow task within milliseconds.
PROGRESS_GRACE = 3.0


async def live_pollers(client: Client, namespace: str, task_queue: str) -> int:
    """How many live workers poll the task queue (pollers of exited workers excluded, see liveness)."""
    return len((await worker_liveness(client, task_queue, namespace)).live)


class LocalRuntime:
    """``async with LocalRuntime(settings, need_llm=True) as rt: rt.client ...``"""

    def __init__(
        self,
        settings: Settings,
        *,
        worker: WorkerMode | None = None,
        need_llm: bool = False,
        worker_kwargs: dict[str, Any] | None = None,
    ) -> None:
        self.settings = settings
        self.worker_mode: WorkerMode = worker or settings.worker
        self.need_llm = need_llm
        self.worker_kwargs = worker_kwargs or {}
        self.client: Client | None = None
        self.dev_server: DevServer | None = None
        self.llm_server: Any = None
        self.worker: Worker | None = None
        self._worker_task: asyncio.Task[None] | None = None
        self._worker_lock = asyncio.Lock()
        self.notes: list[str] = []  # what was started and why, for the CLI to tell the user
        # Set when no worker will pick runs up: the message to show (None: a worker is there or coming).
        self.waiting: str | None = None

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
        if self.worker_mode == "always":
            await self.start_worker()
        else:
            await self.ensure_worker()
        return self

    @property
    def owns_server(self) -> bool:
        """Whether the Temporal server is ours to serve: one we started, or one on this machine."""
        return self.dev_server is not None or is_local_address(self.settings.temporal_address)

    @property
    def may_start_worker(self) -> bool:
        return self.worker_mode == "always" or (self.worker_mode == "auto" and self.owns_server)

    async def liveness(self) -> WorkerLiveness:
        """The task queue's pollers judged alive or gone (one RPC; never cached: a cached "alive"
        would hide a worker that went away a moment ago)."""
        assert self.client is not None
        return await worker_liveness(self.client, self.settings.task_queue, self.settings.namespace)

    async def ensure_worker(self) -> str | None:
        """Make sure a worker will pick runs up: a live one polls, or one starts here when we may.

        Returns (and keeps in ``waiting``) the message for the user when no worker will, else None.
        Free when this process already runs the worker; else one RPC.
        """
        if self.worker is not None:
            self.waiting = None
            return None
        liveness = await self.liveness()
        if liveness.live:
            self.waiting = None
            return None
        if self.may_start_worker:
            async with self._worker_lock:
                if self.worker is None:
                    await self.start_worker(liveness.summary())
            self.waiting = None
            return None
        why = (
            "this runtime starts no worker (worker=never)"
            if self.worker_mode == "never"
            else f"the Temporal server at {self.settings.temporal_address} is not on this machine, so none "
            "is started here unasked (worker=always does)"
        )
        self.waiting = f"{waiting_message(self.settings.task_queue)}; {liveness.summary()}; {why}"
        return self.waiting

    async def start_worker(self, why: str | None = None) -> Worker:
        assert self.client is not None
        # Imported here: building a worker imports every activity (ollama, docker, the executors),
        # ~0.6 s that a run handed to a worker already polling (`gleitzeit dev`, `gleitzeit worker`)
        # does not need.
        from gleitzeit.worker.build import build_worker

        self.worker = build_worker(self.client, self.settings, **self.worker_kwargs)
        self._worker_task = asyncio.create_task(self.worker.run())
        self.waiting = None
        because = f" ({why})" if why else ""
        self.notes.append(f"started an in-process worker on task queue '{self.settings.task_queue}'{because}")
        return self.worker

    async def ensure_progress(self, handle: Any, grace: float = PROGRESS_GRACE) -> bool:
        """Start an in-process worker if nobody picked the run up within ``grace`` s (when we may).

        ensure_worker found a worker that looks alive (a process of this machine whose pid runs, or a
        fresh poller of another machine), but a process may live on without polling; a run whose first
        workflow task is still untouched after ``grace`` proves it. Returns True when a worker was
        started here; when none may be started, ``waiting`` says the run waits.
        """
        if self.worker is not None or self.worker_mode == "never":
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while loop.time() < deadline:
            if await _picked_up(handle):
                return False
            await asyncio.sleep(0.1)
        if not self.may_start_worker:
            self.waiting = (
                f"{waiting_message(self.settings.task_queue)}: no worker picked the run up within "
                f"{grace:g} s ({(await self.liveness()).summary()})"
            )
            return False
        async with self._worker_lock:
            if self.worker is not None:
                return False
            await self.start_worker(f"no worker picked the run up within {grace:g} s")
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


async def _picked_up(handle: Any) -> bool:
    """Whether a worker has taken the run's first workflow task (or the run is already over)."""
    description = await handle.describe()
    raw = description.raw_description
    if raw.workflow_execution_info.history_length > 2 or description.close_time is not None:
        return True
    return bool(
        raw.HasField("pending_workflow_task")
        and raw.pending_workflow_task.state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_STARTED
    )
