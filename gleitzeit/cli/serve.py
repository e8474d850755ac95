"""`gleitzeit serve`: the REST API (OpenAPI docs at /docs), with Temporal access and a worker."""

from __future__ import annotations

import typer

from gleitzeit.cli.app import app

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
        help="in-process worker: auto (when no live worker polls the task queue and Temporal runs on "
        "this machine), always, never (default: GLEITZEIT_WORKER, else auto)",
    ),
) -> None:
    """Serve the REST API until interrupted. Set GLEITZEIT_API_TOKEN to require a bearer token."""
    from rich.console import Console

    from gleitzeit.api.serving import serve as run_server
    from gleitzeit.config import get_settings

    settings = get_settings()
    if worker is not None:
        if worker not in ("auto", "always", "never"):
            raise typer.BadParameter("--worker must be auto, always or never")
        settings = settings.model_copy(update={"worker": worker})
    err = Console(stderr=True)
    bind = host or settings.api_host
    if not settings.api_token and bind not in ("127.0.0.1", "localhost", "::1"):
        err.print(
            f"[yellow]warning:[/] serving on {bind} without a token; anyone who can reach it can run "
            "workflows (set GLEITZEIT_API_TOKEN)"
        )
    run_server(settings, host, port, log_level)
