"""Helpers for the background servers Gleitzeit starts (LLM server, REST API): stop them, read their logs."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

__all__ = ["log_tail", "stop_process"]


def stop_process(process: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM (answers in flight may finish), then SIGKILL after ``grace`` seconds."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=grace)


def log_tail(path: Path, lines: int = 20) -> str:
    """The last ``lines`` lines of a log file, for error messages ("" if it cannot be read)."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""
