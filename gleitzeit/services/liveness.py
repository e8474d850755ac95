"""Whether a live worker polls a task queue, and whether a run waits for one.

Why not Temporal's poller list alone: DescribeTaskQueue lists a worker for minutes after it exited,
and a poller's last access time cannot tell a dead worker from a live one either: the server stamps it
when a long poll *starts*, so an idle live worker's stamp is up to 60 s old while a worker killed 5 s
ago has a fresher one (measured on the dev server: stamps aged 8, 18 ... 48 s, then 1 s at the next
poll). What does tell: the SDK names every worker ``pid@hostname`` (the client's default identity), so
a poller of this machine is alive exactly when process ``pid`` runs and was started before that poll
(a reused pid is not the worker); a poller that is this very process counts while one of its workers
runs (``gleitzeit.worker.registry``). Pollers of other machines cannot be checked from here: they
count while their last poll is under 70 s old (a live worker polls at least once a minute).
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
from temporalio.api.enums.v1 import PendingActivityState, PendingWorkflowTaskState, TaskQueueType
from temporalio.api.taskqueue.v1 import TaskQueue
from temporalio.api.workflowservice.v1 import DescribeTaskQueueRequest
from temporalio.client import Client, WorkflowExecutionDescription, WorkflowExecutionStatus

from gleitzeit.worker.registry import runs_here

__all__ = [
    "POLLER_FRESHNESS",
    "WAITING_AFTER",
    "PollerState",
    "WorkerLiveness",
    "run_waiting_for_worker",
    "waiting_message",
    "worker_liveness",
]

# Long polls last up to 60 s, so a live worker of another machine touches the queue at least that often.
POLLER_FRESHNESS = timedelta(seconds=70)
# A run counts as waiting for a worker when its next step has been scheduled this long without a start
# (a live worker with a free slot starts it within milliseconds; this only absorbs a worker starting up).
WAITING_AFTER = 2.0
# A process's start time is rounded by the OS; allow this much before calling its pid reused.
_CLOCK_SLACK = 1.0
_HOSTNAME = socket.gethostname()


def waiting_message(task_queue: str) -> str:
    """What a run waiting for a worker tells the user."""
    return f"no worker is polling task queue '{task_queue}' (start one with `gleitzeit worker`)"


@dataclass(frozen=True)
class PollerState:
    """One poller of the task queue's list: its identity, and whether (and why) it counts as alive."""

    identity: str
    last_access: datetime
    alive: bool
    why: str


@dataclass(frozen=True)
class WorkerLiveness:
    """The pollers of ``task_queue``, each judged alive or gone; ``error`` when the list was unreadable."""

    task_queue: str
    pollers: tuple[PollerState, ...] = ()
    error: str | None = None
    checked_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def live(self) -> list[PollerState]:
        return [p for p in self.pollers if p.alive]

    @property
    def gone(self) -> list[PollerState]:
        return [p for p in self.pollers if not p.alive]

    def summary(self) -> str:
        """One clause for notes and status: who is alive, or why nobody counts."""
        if self.live:
            who = ", ".join(p.why for p in self.live[:3])
            return f"{len(self.live)} live worker(s): {who}"
        if self.error:
            return f"no live worker known (the poller list could not be read: {self.error})"
        if not self.pollers:
            return "no live worker: nothing polls it"
        gone = "; ".join(p.why for p in self.gone[:3])
        more = f" and {len(self.gone) - 3} more" if len(self.gone) > 3 else ""
        return f"no live worker: the {len(self.gone)} listed poller(s) are gone ({gone}{more})"

    def as_status(self) -> dict[str, Any]:
        """The ``workers`` part of ``get_status()``."""
        info: dict[str, Any] = {
            "available": bool(self.live),
            "task_queue": self.task_queue,
            "pollers": len(self.live),
            "live": [p.identity for p in self.live],
            "gone": [p.identity for p in self.gone],
        }
        if not self.live:
            info["error"] = f"{waiting_message(self.task_queue)}; {self.summary()}"
        return info


def _process_alive(pid: int, polled_at: datetime) -> bool:
    """Whether process ``pid`` runs and already ran at ``polled_at`` (else the pid was reused)."""
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        return process.create_time() <= polled_at.timestamp() + _CLOCK_SLACK
    except psutil.NoSuchProcess:
        return False
    except psutil.AccessDenied:  # another user's process: it exists, that is all we may know
        return True


def _judge(
    identity: str, last_access: datetime, now: datetime, client: Client, task_queue: str
) -> PollerState:
    pid_text, at, host = identity.partition("@")
    if at and pid_text.isdigit() and host == _HOSTNAME:
        pid = int(pid_text)
        if pid == os.getpid():
            alive = runs_here(client.service_client.config.target_host, client.namespace, task_queue)
            state = "runs a worker" if alive else "runs no worker any more"
            return PollerState(identity, last_access, alive, f"pid {pid} (this process) {state}")
        alive = _process_alive(pid, last_access)
        state = "is running" if alive else "has exited"
        return PollerState(identity, last_access, alive, f"pid {pid} on this host {state}")
    age = (now - last_access).total_seconds()
    fresh = now - last_access < POLLER_FRESHNESS
    where = f"{identity} polled {age:.0f} s ago"
    return PollerState(
        identity, last_access, fresh, where if fresh else f"{where}, longer than a live worker waits"
    )


async def worker_liveness(client: Client, task_queue: str, namespace: str | None = None) -> WorkerLiveness:
    """The workflow pollers of ``task_queue``, each judged alive or gone (one RPC, no waiting)."""
    try:
        answer = await client.workflow_service.describe_task_queue(
            DescribeTaskQueueRequest(
                namespace=namespace or client.namespace,
                task_queue=TaskQueue(name=task_queue),
                task_queue_type=TaskQueueType.TASK_QUEUE_TYPE_WORKFLOW,
            )
        )
    except Exception as exc:  # an old or restricted server: nobody is known to be alive
        return WorkerLiveness(task_queue, error=str(exc) or type(exc).__name__)
    now = datetime.now(UTC)
    # psutil reads a few /proc files per poller: microseconds, no need to leave the event loop.
    judged = tuple(
        _judge(p.identity, p.last_access_time.ToDatetime(tzinfo=UTC), now, client, task_queue)
        for p in answer.pollers
    )
    return WorkerLiveness(task_queue, judged, checked_at=now)


def _waiting_since(raw: Any, now: datetime) -> datetime | None:
    """The earliest moment a step of the run (its workflow task, an activity) became due and has not
    been started since; None when nothing is due (running, or waiting for a retry's backoff)."""
    due: list[datetime] = []
    task = raw.pending_workflow_task
    if (
        raw.HasField("pending_workflow_task")
        and task.state == PendingWorkflowTaskState.PENDING_WORKFLOW_TASK_STATE_SCHEDULED
    ):
        due.append(task.scheduled_time.ToDatetime(tzinfo=UTC))
    for activity in raw.pending_activities:
        if activity.state != PendingActivityState.PENDING_ACTIVITY_STATE_SCHEDULED:
            continue
        # A retried attempt is due at its next_attempt_schedule_time (in the future while it backs off).
        stamp = (
            activity.next_attempt_schedule_time
            if activity.HasField("next_attempt_schedule_time")
            else activity.scheduled_time
        )
        when = stamp.ToDatetime(tzinfo=UTC)
        if when <= now:
            due.append(when)
    return min(due) if due else None


async def run_waiting_for_worker(
    client: Client, description: WorkflowExecutionDescription, *, after: float = WAITING_AFTER
) -> str | None:
    """Why the run waits for a worker, or None.

    A run waits for a worker when its workflow task or one of its activities has been scheduled and not
    started for more than ``after`` seconds AND no live worker polls its task queue (a busy live worker
    is not "no worker").
    """
    if description.status != WorkflowExecutionStatus.RUNNING:
        return None
    raw = description.raw_description
    now = datetime.now(UTC)
    since = _waiting_since(raw, now)
    if since is None or (now - since).total_seconds() < after:
        return None
    task_queue = raw.execution_config.task_queue.name
    liveness = await worker_liveness(client, task_queue)
    if liveness.live:
        return None
    waited = (now - since).total_seconds()
    return f"{waiting_message(task_queue)}; its next step has waited {waited:.0f} s"
