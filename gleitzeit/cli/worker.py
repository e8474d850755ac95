"""`gleitzeit worker`: run a worker on the task queue until SIGTERM/SIGINT (graceful shutdown)."""

from __future__ import annotations

import gc
import signal
from typing import TYPE_CHECKING

import typer

from gleitzeit.cli.app import app
from gleitzeit.core.errors import ConfigurationError, GleitzeitError

if TYPE_CHECKING:
    from temporalio.worker import Worker

__all__ = ["worker"]


async def serve_worker(
    task_queue: str | None, max_concurrent_activities: int, metrics_port: int | None = None
) -> None:
    import asyncio

    from rich.console import Console

    from gleitzeit.config import get_settings
    from gleitzeit.executors.forkserver import shutdown_fork_servers
    from gleitzeit.services.connection import connect
    from gleitzeit.worker.build import build_worker

    settings = get_settings()
    if task_queue:
        settings = settings.model_copy(update={"task_queue": task_queue})
    metrics_port = metrics_port if metrics_port is not None else settings.metrics_port
    # Before connecting: the SDK binds a client to the runtime that is the default when it starts.
    endpoint = _MetricsEndpoint(settings.metrics_host, metrics_port) if metrics_port is not None else None
    client = await connect(settings)
    w = build_worker(client, settings, max_concurrent_activities=max_concurrent_activities)
    if endpoint is not None:
        endpoint.start(w)
    # What start-up made (modules, classes, the SDK's and pydantic's tables: ~93,000 objects) lives as
    # long as the process: frozen, a full collection no longer walks it. In a batch of 10,000 files
    # each full collection stalled every lane for ~125 ms (5 of them); frozen, ~22 ms (4).
    gc.collect()
    gc.freeze()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    console = Console(stderr=True)
    swept = await asyncio.to_thread(_sweep_containers)
    if swept:
        console.print(f"removed {swept} exited script container(s) left by earlier workers")
    console.print(
        f"worker polling task queue [bold]{settings.task_queue}[/] at {settings.temporal_address} "
        f"(namespace {settings.namespace}, LLM server {settings.ollama_host}); Ctrl-C or SIGTERM stops it"
    )
    if endpoint is not None:
        console.print(
            f"metrics and health at http://{settings.metrics_host}:{endpoint.port}/metrics, /healthz"
        )
    async with w:
        await stop.wait()
        # Leaving the block shuts the worker down: no new tasks, running activities get
        # graceful_shutdown_timeout to finish, then are cancelled and retried elsewhere.
        console.print("stopping worker (finishing running activities)...")
    if endpoint is not None:
        await endpoint.stop()
    # The local executor's fork server exits now, not at interpreter exit (which a crash may skip).
    await asyncio.to_thread(shutdown_fork_servers)
    console.print("worker stopped")


class _MetricsEndpoint:
    """``/metrics`` (ours and the SDK's) and ``/healthz`` of this worker (gleitzeit.worker.health).

    The port is bound at once, before connecting: a port in use stops the worker with a clear error
    instead of after it started polling.
    """

    def __init__(self, host: str, port: int) -> None:
        from gleitzeit.worker.health import HealthServer, LoopWatch, worker_health
        from gleitzeit.worker.telemetry import install_sdk_metrics

        self._sdk = install_sdk_metrics()
        self._loop = LoopWatch()
        self._worker: Worker | None = None
        try:
            self._server = HealthServer(
                host, port, lambda: worker_health(self._running, self._loop, self._sdk)
            )
        except OSError as exc:
            raise ConfigurationError(
                f"cannot serve metrics on {host}:{port}: {exc.strerror or exc} "
                "(choose another --metrics-port / GLEITZEIT_METRICS_PORT)"
            ) from None
        self.port = self._server.port

    def _running(self) -> bool:
        return self._worker is not None and self._worker.is_running and not self._worker.is_shutdown

    def start(self, w: Worker) -> None:
        self._worker = w
        self._loop.start()
        self._server.start()

    async def stop(self) -> None:
        await self._loop.stop()
        self._server.stop()


def _sweep_containers() -> int:
    """Exited sandbox containers of crashed workers (running ones may belong to a live worker)."""
    try:
        from gleitzeit.executors.docker import sweep_exited_containers

        return sweep_exited_containers()
    except Exception:  # no engine here: nothing to sweep
        return 0


@app.command()
def worker(
    task_queue: str | None = typer.Option(None, help="task queue (default GLEITZEIT_TASK_QUEUE)"),
    max_concurrent_activities: int = typer.Option(100, help="activities run at once by this worker"),
    metrics_port: int | None = typer.Option(
        None,
        help="serve Prometheus /metrics and /healthz on this port (default GLEITZEIT_METRICS_PORT; "
        "address GLEITZEIT_METRICS_HOST, 127.0.0.1)",
    ),
) -> None:
    """Run a worker that executes pipelines from the task queue."""
    try:
        import asyncio

        asyncio.run(serve_worker(task_queue, max_concurrent_activities, metrics_port))
    except GleitzeitError as exc:
        from rich.console import Console

        Console(stderr=True).print(f"[red]error:[/] {exc}", highlight=False)
        raise typer.Exit(2 if isinstance(exc, ConfigurationError) else 1) from None
