"""Start the REST API (``gleitzeit serve``) as a subprocess for api mode's ``auto_start_server``.

The server gets this client's settings through the environment (``GLEITZEIT_*``), so it talks to the
same Temporal, task queue and LLM server. Its output goes to ``<data_dir>/logs/api-server-<port>.log``.
It runs in its own session: with ``keep_server_running`` it outlives the client.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path

import httpx

from gleitzeit.config import Settings
from gleitzeit.core.errors import ServiceUnavailableError
from gleitzeit.services.detached import start_detached, stop_process

__all__ = ["ApiServerProcess", "api_answers", "settings_env", "start_api_server"]

START_TIMEOUT = 120.0  # the server brings up Temporal's dev server and a worker before it answers
STOP_GRACE = 15.0


async def api_answers(base_url: str, timeout: float = 1.0) -> bool:
    """Whether a Gleitzeit API answers ``GET /v1/health`` at ``base_url``."""
    try:
        async with httpx.AsyncClient(timeout=timeout) as http:
            return _is_gleitzeit_health(await http.get(base_url.rstrip("/") + "/v1/health"))
    except (httpx.HTTPError, ValueError):
        return False


def _api_answers_now(base_url: str, timeout: float = 1.0) -> bool:
    """``api_answers`` for the synchronous start-up wait."""
    try:
        return _is_gleitzeit_health(httpx.get(base_url.rstrip("/") + "/v1/health", timeout=timeout))
    except (httpx.HTTPError, ValueError):
        return False


def _is_gleitzeit_health(answer: httpx.Response) -> bool:
    return answer.status_code == 200 and answer.json().get("service") == "gleitzeit"


def settings_env(settings: Settings) -> dict[str, str]:
    """``settings`` as GLEITZEIT_* environment variables (lists as JSON, as pydantic-settings reads them)."""
    env: dict[str, str] = {}
    for name, value in settings.model_dump(mode="json").items():
        if value is None:
            continue
        if isinstance(value, list | dict):
            text = json.dumps(value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        env[f"GLEITZEIT_{name.upper()}"] = text
    return env


class ApiServerProcess:
    def __init__(self, process: subprocess.Popen[bytes], url: str, log_file: Path) -> None:
        self.process = process
        self.url = url
        self.log_file = log_file

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = STOP_GRACE) -> None:
        stop_process(self.process, timeout)


async def start_api_server(
    settings: Settings, host: str, port: int, *, timeout: float = START_TIMEOUT
) -> ApiServerProcess:
    """Start ``gleitzeit serve`` and wait until it answers; ServiceUnavailableError naming the log if not."""
    log_file = Path(settings.data_dir) / "logs" / f"api-server-{port}.log"
    cmd = [
        sys.executable,
        "-c",
        "from gleitzeit.cli import main; main()",
        "serve",
        "--host",
        host,
        "--port",
        str(port),
    ]
    url_host = f"[{host}]" if ":" in host else host
    url = f"http://{url_host}:{port}"
    process = await asyncio.to_thread(
        start_detached,
        cmd,
        log_file=log_file,
        ready=lambda: _api_answers_now(url),
        what="the Gleitzeit API server",
        where=url,
        error=ServiceUnavailableError,
        timeout=timeout,
        env=settings_env(settings),
        interval=0.2,
        stop_grace=STOP_GRACE,
    )
    return ApiServerProcess(process, url, log_file)
