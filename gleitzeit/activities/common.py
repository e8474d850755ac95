"""Helpers shared by the task activities: heartbeats, file paths, result size, error shapes."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from gleitzeit.contracts.heartbeat import HEARTBEAT_INTERVAL

__all__ = [
    "check_result_size",
    "heartbeating",
    "heartbeats_covered",
    "non_retryable",
    "resolve_path",
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


def resolve_path(raw: str, base_dir: str | None, *, what: str = "file") -> Path:
    """A user-given path: absolute as is, relative against the workflow's directory, then the cwd.

    Missing files are bad input (non-retryable): the error names every place we looked.
    """
    path = Path(os.path.expanduser(raw))
    candidates = [path] if path.is_absolute() else []
    if not path.is_absolute():
        if base_dir:
            candidates.append(Path(base_dir) / path)
        candidates.append(Path.cwd() / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(str(c) for c in candidates)
    raise non_retryable(
        f"{what} '{raw}' not found (looked at: {tried})", "FileNotFound", path=raw, tried=tried
    )


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
            activity.heartbeat(details() if details else None)
            await asyncio.sleep(HEARTBEAT_INTERVAL)

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
