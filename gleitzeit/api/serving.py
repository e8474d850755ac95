"""Run the REST API with uvicorn (``gleitzeit serve``)."""

from __future__ import annotations

import uvicorn

from gleitzeit.api.app import create_app
from gleitzeit.config import Settings

__all__ = ["serve"]


def serve(
    settings: Settings, host: str | None = None, port: int | None = None, log_level: str = "info"
) -> None:
    """Serve until interrupted; the app brings up Temporal access and a worker on start."""
    app = create_app(settings)
    uvicorn.run(
        app,
        host=host or settings.api_host,
        port=port or settings.api_port,
        log_level=log_level,
        # Bodies are limited by the app; keep-alive connections of long polls may idle a while.
        timeout_keep_alive=60,
    )
