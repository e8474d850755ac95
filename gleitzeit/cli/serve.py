"""`gleitzeit serve`: the REST API (OpenAPI docs at /docs), with Temporal access and a worker."""

from __future__ import annotations

from typing import cast

import typer
from rich.console import Console

from gleitzeit.cli.app import app
from gleitzeit.config import get_settings
from gleitzeit.services.runtime import WorkerMode

__all__ = ["serve"]


@app.command()
def serve(
    host: str | None = typer.Option(
        None, "--host", help="address to bind (default GLEITZEIT_API_HOST, 127.0.0.1)"
    ),
    port: int | None = typer.Option(None, "--port", help="port (default GLEITZEIT_API_PORT, 8000)"),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level"),
    worker: str | None = typer.Option(
        None,
        "--worker",
        help="auto | always | never (default GLEITZEIT_API_WORKER, auto). auto runs an in-process worker "
        "when none polls the task queue; never leaves all work to `gleitzeit worker` processes (clusters)",
    ),
) -> None:
    """Serve the REST API until interrupted. Set GLEITZEIT_API_TOKEN to require a bearer token."""
    from gleitzeit.api.serving import serve as run_server

    settings = get_settings()
    err = Console(stderr=True)
    bind = host or settings.api_host
    if not settings.api_token and bind not in ("127.0.0.1", "localhost", "::1"):
        err.print(
            f"[yellow]warning:[/] serving on {bind} without a token; anyone who can reach it can run "
            "workflows (set GLEITZEIT_API_TOKEN)"
        )
    mode = worker or settings.api_worker
    if mode not in ("auto", "always", "never"):
        err.print(f"[red]error:[/] --worker must be auto, always or never, not '{mode}'")
        raise typer.Exit(2)
    run_server(settings, host, port, log_level, worker=cast(WorkerMode, mode))
