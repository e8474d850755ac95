"""Start the embedded LLM server when nothing answers at OLLAMA_HOST.

``ensure_llm_server`` is what ``gleitzeit run`` / ``gleitzeit dev`` call: if an Ollama-API server already
answers (a real Ollama, or ours), they use it; if not and the address is local, they start
``python -m gleitzeit.llm_server`` on that port and wait until it answers.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from gleitzeit.config import Settings
from gleitzeit.core.errors import LLMUnavailableError
from gleitzeit.services.detached import start_detached, stop_process

__all__ = ["LlmServerHandle", "ensure_llm_server", "llm_server_answers", "start_llm_server"]

LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1", "0.0.0.0"})
DEFAULT_START_TIMEOUT = 60.0  # model load is ~1 s; a busy 2-core box needs headroom
PROBE_TIMEOUT = 2.0
STOP_GRACE = 5.0


@dataclass
class LlmServerHandle:
    """A server this process started: ``url``, ``pid``, ``log_file``; ``stop()`` ends it."""

    url: str
    pid: int
    log_file: Path
    request_log: Path | None
    process: subprocess.Popen[bytes]

    def stop(self, timeout: float = STOP_GRACE) -> None:
        """SIGTERM (graceful: answers in flight may finish), then SIGKILL after ``timeout`` seconds."""
        stop_process(self.process, timeout)

    async def astop(self, timeout: float = STOP_GRACE) -> None:
        await asyncio.to_thread(self.stop, timeout)

    @property
    def running(self) -> bool:
        return self.process.poll() is None


def llm_server_answers(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether an Ollama-API server answers ``GET /api/version`` at ``url``."""
    try:
        return httpx.get(url.rstrip("/") + "/api/version", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


async def _answers_async(url: str, timeout: float = PROBE_TIMEOUT) -> bool:
    try:
        async with httpx.AsyncClient(timeout=timeout) as client:
            return (await client.get(url.rstrip("/") + "/api/version")).status_code == 200
    except httpx.HTTPError:
        return False


def start_llm_server(
    host: str = "127.0.0.1",
    port: int = 11434,
    *,
    log_file: str | Path | None = None,
    request_log: str | Path | None = None,
    parallel: int | None = None,
    ctx_size: int | None = None,
    threads: int | None = None,
    timeout: float = DEFAULT_START_TIMEOUT,
    env: dict[str, str] | None = None,
) -> LlmServerHandle:
    """Start the server as a subprocess and wait (at most ``timeout`` s) until it answers.

    Raises LLMUnavailableError naming the log file if the process dies or does not answer in time.
    """
    from gleitzeit.llm_server.serving import llm_backend_available

    ok, hint = llm_backend_available()
    if not ok:
        raise LLMUnavailableError(f"cannot start the embedded LLM server: {hint}")
    if log_file is None:
        from gleitzeit.config import get_settings

        log_file = get_settings().data_dir / "logs" / f"llm-server-{port}.log"
    log_path = Path(log_file)
    cmd = [sys.executable, "-m", "gleitzeit.llm_server", "--host", host, "--port", str(port)]
    for flag, value in (("--parallel", parallel), ("--ctx-size", ctx_size), ("--threads", threads)):
        if value is not None:
            cmd += [flag, str(value)]
    if request_log is not None:
        cmd += ["--request-log", str(request_log)]
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{'127.0.0.1' if host == '0.0.0.0' else url_host}:{port}"
    if llm_server_answers(url):
        raise LLMUnavailableError(f"a server already answers at {url}; not starting another on port {port}")
    process = start_detached(
        cmd,
        log_file=log_path,
        ready=lambda: llm_server_answers(url, timeout=1.0),
        what="the embedded LLM server",
        where=url,
        error=LLMUnavailableError,
        timeout=timeout,
        env=env or {},
        stop_grace=STOP_GRACE,
    )
    return LlmServerHandle(url, process.pid, log_path, Path(request_log) if request_log else None, process)


async def ensure_llm_server(
    settings: Settings, *, log_file: str | Path | None = None
) -> LlmServerHandle | None:
    """Make sure an Ollama-API server answers at ``settings.ollama_host``.

    Returns None when one already answers (nothing to stop later), or the handle of the server started
    here. Raises LLMUnavailableError when nothing answers and starting one is impossible or disabled.
    """
    url = settings.ollama_host
    if await _answers_async(url):
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if host not in LOCAL_HOSTS:
        raise LLMUnavailableError(
            f"no Ollama-API server answers at {url} (OLLAMA_HOST); start Ollama there, or point "
            "OLLAMA_HOST at a local address (e.g. http://127.0.0.1:11434) to use the embedded server"
        )
    if not settings.auto_start_llm:
        raise LLMUnavailableError(
            f"no Ollama-API server answers at {url}; start one with `gleitzeit llm serve --port "
            f"{parts.port or 11434}` or enable auto-start (GLEITZEIT_AUTO_START_LLM=true)"
        )
    port = parts.port or (443 if parts.scheme == "https" else 80)
    bind = "::1" if host == "::1" else "127.0.0.1"
    if log_file is None:
        log_file = settings.data_dir / "logs" / f"llm-server-{port}.log"
    return await asyncio.to_thread(start_llm_server, bind, port, log_file=log_file)
