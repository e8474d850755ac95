"""Real processes for crash tests: a persistent Temporal dev server and `gleitzeit worker` subprocesses."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from gleitzeit.config import Settings
from gleitzeit.services.temporal_dev import DevServer, start_dev_server
from tests.helpers import free_port, venv_binary


@dataclass
class CrashServer:
    """A dev server on a SQLite file that a test may SIGKILL and start again on the same file."""

    settings: Settings
    server: DevServer

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.server.pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.server.pid, 0)

    def restart(self) -> None:
        # Returns once the server serves calls (the health check `gleitzeit dev` waits on), not when its
        # port opens: right after a restart the frontend answers "Frontend is not healthy yet".
        self.server = start_dev_server(self.settings, headless=True)


@contextlib.contextmanager
def crash_server(tmp: Path, task_queue: str) -> Iterator[CrashServer]:
    settings = Settings(
        temporal_address=f"127.0.0.1:{free_port()}",
        data_dir=tmp,
        task_queue=task_queue,
        ui_port=free_port(),
    )
    server = CrashServer(settings, start_dev_server(settings, headless=True))
    try:
        yield server
    finally:
        server.kill()


def start_worker(settings: Settings, log: Path, **env: str) -> subprocess.Popen[bytes]:
    """`gleitzeit worker` in its own process group, configured through the environment as users do."""
    binary = venv_binary("gleitzeit")
    assert binary, "the gleitzeit console script is not installed"
    full_env = {
        **os.environ,
        "GLEITZEIT_TEMPORAL_ADDRESS": settings.temporal_address,
        "GLEITZEIT_TASK_QUEUE": settings.task_queue,
        "GLEITZEIT_DATA_DIR": str(settings.data_dir),
        "OLLAMA_HOST": settings.ollama_host,
        **env,
    }
    with open(log, "ab") as out:
        return subprocess.Popen(
            [binary, "worker"], env=full_env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def kill_worker(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, sig)
    proc.wait(timeout=30)


def wait_for(predicate: object, timeout: float, what: str, interval: float = 0.1) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
