"""Run the REST API with uvicorn (``gleitzeit serve``)."""

from __future__ import annotations

import uvicorn

from gleitzeit.api.app import create_app
from gleitzeit.config import Settings
from gleitzeit.services.runtime import WorkerMode
from gleitzeit.worker.telemetry import install_sdk_metrics

__all__ = ["serve"]


def serve(
    settings: Settings,
    host: str | None = None,
    port: int | None = None,
    log_level: str = "info",
    worker: WorkerMode | None = None,
) -> None:
    """Serve until interrupted; the app brings up Temporal access (and, per ``worker``, a worker) on start."""
    # The SDK's client metrics join GET /metrics; the runtime must be the default before connecting.
    install_sdk_metrics()
    app = create_app(settings, worker=worker)
    uvicorn.run(
        app,
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=log_level,
        # Bodies are limited by the app; keep-alive connections of long polls may idle a while.
        timeout_keep_alive=60,
    )
