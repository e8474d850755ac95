"""Small helpers shared by the tests."""

from __future__ import annotations

import asyncio
import inspect
import os
import socket
import time
from collections.abc import Callable

import pytest

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(available: bool, what: str, how: str = "") -> None:
    """Skip on a developer's machine that lacks a component; fail in CI, where it must exist.

    ``what`` names the missing component, ``how`` says how to get it (printed in the skip reason).
    """
    if available:
        return
    message = f"{what} is not available" + (f": {how}" if how else "")
    if IN_CI:
        pytest.fail(f"{message} (CI must provide it; tests never skip in CI)", pytrace=False)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def venv_binary(name: str) -> str | None:
    """A console script of this interpreter's environment (the venv), else from PATH."""
    import shutil
    import sys
    from pathlib import Path

    candidate = Path(sys.executable).parent / name
    if candidate.is_file():
        return str(candidate)
    return shutil.which(name)


async def until(
    condition: Callable[[], object],
    what: str,
    *,
    timeout: float = 30.0,
    interval: float = 0.05,
) -> None:
    """Wait until ``condition()`` holds (it may be async), checking every ``interval`` seconds.

    Fails the test with ``what`` when ``timeout`` passes first: a readiness wait with a deadline,
    never a fixed sleep that a slow CI machine outlasts.
    """
    deadline = time.monotonic() + timeout
    while True:
        outcome = condition()
        if inspect.isawaitable(outcome):
            outcome = await outcome
        if outcome:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not so after {timeout:g} s", pytrace=False)
        await asyncio.sleep(interval)
