"""The workers this process built, so that liveness checks can tell which of them still run.

Why: Temporal names a worker by ``pid@hostname``; for a poller whose pid is this very process, the
process being alive proves nothing (a test, a notebook or ``gleitzeit serve`` may have stopped its
worker and live on). ``build_worker`` remembers every worker here; a worker of this process counts as
live only while one of them runs on that server, namespace and task queue.
"""

from __future__ import annotations

import weakref

from temporalio.worker import Worker

__all__ = ["remember", "runs_here"]

_workers: weakref.WeakSet[Worker] = weakref.WeakSet()


def remember(worker: Worker) -> Worker:
    """Note a worker this process built (held weakly: a dropped worker is forgotten)."""
    _workers.add(worker)
    return worker


def runs_here(target_host: str, namespace: str, task_queue: str) -> bool:
    """Whether a worker of this process runs now on ``task_queue`` of that server and namespace."""
    for worker in list(_workers):
        client = worker.client
        if (
            worker.is_running
            and worker.task_queue == task_queue
            and client.namespace == namespace
            and client.service_client.config.target_host == target_host
        ):
            return True
    return False
