"""Helpers shared by the task activities: heartbeats, file paths, result size, error shapes."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

__all__ = [
    "HEARTBEAT_INTERVAL",
    "check_result_size",
    "heartbeating",
    "non_retryable",
    "resolve_path",
    "retryable",
]

# Heartbeat well inside the shortest heartbeat timeout the workflow sets (15 s), so a killed worker is
# noticed quickly while a live one is never mistaken for dead.
HEARTBEAT_INTERVAL = 3.0


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
    """Heartbeat in the background while the body runs (no-op outside an activity)."""
    # Outside an activity, or in a local activity (the server does not know it: nothing to beat).
    if not activity.in_activity() or activity.info().is_local:
        yield
        return

    async def beat() -> None:
        while True:
            activity.heartbeat(details() if details else None)
            await asyncio.sleep(HEARTBEAT_INTERVAL)

    ticker = asyncio.create_task(beat())
    try:
        yield
    finally:
        ticker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await ticker
