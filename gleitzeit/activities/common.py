"""Helpers shared by the task activities: heartbeats, result size, error shapes, the files a task opens.

File paths a task names are found by :func:`gleitzeit.core.files.find_file`, inside the file roots
that apply where the file is opened (:func:`find_task_file`).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from gleitzeit.config import Settings
from gleitzeit.contracts.heartbeat import HEARTBEAT_INTERVAL
from gleitzeit.contracts.tasks import TaskInput
from gleitzeit.core.files import MissingFile, OutsideRoots, find_file, read_roots

__all__ = [
    "check_result_size",
    "find_task_file",
    "heartbeating",
    "heartbeats_covered",
    "non_retryable",
    "retryable",
]

# True inside a ``heartbeating`` block: the tasks started in it (a batch chunk's lanes) inherit it, and
# their own heartbeats would only repeat the chunk's.
_COVERED: contextvars.ContextVar[bool] = contextvars.ContextVar("gleitzeit_heartbeats_covered", default=False)


def non_retryable(message: str, type_: str, **details: Any) -> ApplicationError:
    """An error Temporal must not retry: bad input or a failure retrying cannot fix."""
    return ApplicationError(message, details or {}, type=type_, non_retryable=True)


def retryable(message: str, type_: str, **details: Any) -> ApplicationError:
    """A transient failure; Temporal retries it under the task's RetryPolicy."""
    return ApplicationError(message, details or {}, type=type_, non_retryable=False)


def check_result_size(result: Any, limit: int, task_id: str) -> None:
    """Refuse results Temporal would reject (2 MiB per payload) with an error that says what to do."""
    size = len(json.dumps(result, default=str).encode())
    if size > limit:
        raise non_retryable(
            f"result of task '{task_id}' is {size / 1_048_576:.1f} MiB, over the {limit / 1_048_576:.1f} MiB "
            "limit for a task result; write large data to a file and return its path instead",
            "ResultTooLarge",
            size=size,
            limit=limit,
        )


@contextlib.asynccontextmanager
async def heartbeating(details: Callable[[], Any] | None = None) -> AsyncIterator[None]:
    """Heartbeat in the background while the body runs.

    A no-op outside an activity, in a local activity (the server does not know it: nothing to beat),
    and inside another ``heartbeating`` block of the same activity (that one already beats).
    """
    if heartbeats_covered():
        yield
        return

    async def beat() -> None:
        while True:
            # The first beat after one interval, not at once: the server counts the heartbeat timeout
            # from the start, and the SDK sends an activity's first heartbeat immediately, so a beat at
            # the start is one more server call and database write per task, for tasks most of which
            # end within the interval (dev server CPU per 64 LLM tasks 1.5 -> 1.2-1.3 s).
            await asyncio.sleep(HEARTBEAT_INTERVAL)
            activity.heartbeat(details() if details else None)

    ticker = asyncio.create_task(beat())
    token = _COVERED.set(True)
    try:
        yield
    finally:
        _COVERED.reset(token)
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker


def heartbeats_covered() -> bool:
    """Whether nothing in this context needs to heartbeat: outside an activity, in a local activity,
    or inside a ``heartbeating`` block (a batch chunk beats for all its files)."""
    return not activity.in_activity() or activity.info().is_local or _COVERED.get()


def find_task_file(raw: str, inp: TaskInput, settings: Settings, what: str = "file") -> Path:
    """A file the task names, inside the worker's and the run's file roots (checked here, where it is
    opened: a name from ``${...}`` is only known now). Missing is bad input (``FileNotFound``) and
    outside the roots is refused (``PermissionDenied``, naming the task, the path and the roots);
    neither is retried."""
    try:
        return find_file(
            raw, inp.base_dir, what=what, root_sets=read_roots(settings.file_roots, inp.file_roots)
        )
    except MissingFile as exc:
        raise non_retryable(str(exc), "FileNotFound", path=raw, tried=exc.tried) from None
    except OutsideRoots as exc:
        raise non_retryable(
            f"{inp.method}: task '{inp.task_id}': {exc}",
            "PermissionDenied",
            path=raw,
            roots=[str(r) for r in exc.roots],
        ) from None
