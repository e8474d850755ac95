"""Small helpers shared by the tests."""

from __future__ import annotations

import os
import socket

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
