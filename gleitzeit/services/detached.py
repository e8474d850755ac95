"""Start a background process and wait until it answers; stop it; read its log.

The Temporal dev server, the embedded LLM server and the REST API subprocess all start this way: in a
session of their own (a Ctrl-C meant for the CLI must not kill them mid-answer, and the dev server
outlives `gleitzeit run`), their output appended to a log file, and the start counts only once a
readiness probe says yes. If the process dies first, or the deadline passes, the error names the log
file and quotes its last lines.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from gleitzeit.core.errors import GleitzeitError

__all__ = ["log_tail", "start_detached", "stop_process"]


def start_detached(
    cmd: Sequence[str],
    *,
    log_file: Path,
    ready: Callable[[], bool],
    what: str,
    where: str,
    error: type[GleitzeitError],
    timeout: float,
    env: Mapping[str, str] | None = None,
    interval: float = 0.1,
    stop_grace: float = 5.0,
) -> subprocess.Popen[bytes]:
    """Start ``cmd`` detached and return it once ``ready()`` is true.

    ``what`` names the process in errors ("the embedded LLM server"), ``where`` is the address it should
    answer at. Raises ``error`` (with the log's tail) when the process exits first or ``timeout``
    seconds pass; in the second case, and on any interruption, the process is stopped first
    (SIGTERM, SIGKILL after ``stop_grace`` seconds).
    """
    log_file.parent.mkdir(parents=True, exist_ok=True)
    with open(log_file, "ab") as log:
        process = subprocess.Popen(
            list(cmd),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=None if env is None else {**os.environ, **env},
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise error(
                    f"{what} exited with code {process.returncode} while starting; "
                    f"see {log_file}:\n{log_tail(log_file)}"
                )
            if ready():
                return process
            time.sleep(interval)
        raise error(
            f"{what} did not answer at {where} within {timeout:.0f} s; see {log_file}:\n{log_tail(log_file)}"
        )
    except BaseException:
        stop_process(process, stop_grace)
        raise


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
