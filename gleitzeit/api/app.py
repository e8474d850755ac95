"""The REST API: ``create_app(settings)`` builds the FastAPI application ``gleitzeit serve`` runs.

On start-up it brings up a ``NativeBackend`` (the dev server when local and configured, an in-process
worker by ``settings.worker``: in auto mode when no live worker polls the task queue and Temporal runs
on this machine, asked again before every run); every endpoint runs on it, so the API does exactly what the
client does in native mode. Routes under ``/v1`` need ``Authorization: Bearer <token>`` when
``settings.api_token`` is set (``/v1/health``, ``/v1/ready``, ``/metrics`` and the OpenAPI docs at ``/docs`` do not). Bodies over
``max_body_bytes`` are refused with 413, files named in requests must be inside
``settings.file_roots`` or the upload store (403 otherwise; the runs carry these roots, and the
worker checks every file a task opens against them), ``POST /v1/files`` streams uploads
under their own limits (``settings.upload_max_file_bytes`` / ``upload_max_request_bytes``), invalid workflows answer 422 with their problems (file, line,
column, task, key, hint) and unknown run ids 404.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from gleitzeit.api import batch, compat, files, llm, ops, schedules, status, workflows
from gleitzeit.api.auth import require_token
from gleitzeit.api.errors import BODY_ERRORS, COMMON_ERRORS, error_responses, install_error_handlers
from gleitzeit.api.limits import DEFAULT_MAX_BODY_BYTES, BodySizeLimit
from gleitzeit.api.paths import PathGuard
from gleitzeit.client.native import NativeBackend
from gleitzeit.config import Settings, get_settings
from gleitzeit.core.version import __version__
from gleitzeit.services.runtime import WorkerMode

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    *,
    backend: NativeBackend | None = None,
    worker: WorkerMode | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
) -> FastAPI:
    """The API over ``backend`` (default: a NativeBackend for ``settings``, started with the app;
    ``worker`` overrides ``settings.worker``)."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own = backend is None
        settings.uploads_dir.mkdir(parents=True, exist_ok=True)
        active = backend or NativeBackend(settings, worker=worker)
        if own:
            await active.start()
        # Every run the API starts carries its roots: a path built at run time (``${inputs.p}``) is
        # checked where a worker opens it, not only the paths this request names.
        active.run_roots = [str(r) for r in app.state.guard.roots]
        app.state.backend = active
        try:
            yield
        finally:
            app.state.backend = None
            if own:
                await active.close()

    app = FastAPI(
        title="Gleitzeit",
        version=__version__,
        description="Durable LLM and Python pipelines from YAML, on Temporal.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    # Uploaded files are named by absolute path in workflow inputs: their store is a root too.
    app.state.guard = PathGuard(list(settings.file_roots) or None, extra=[settings.uploads_dir])
    app.state.backend = backend
    install_error_handlers(app)
    # POST /v1/files streams its body under its own limits (settings.upload_max_*_bytes).
    app.add_middleware(BodySizeLimit, max_bytes=max_body_bytes, exempt=("/v1/files",))
    app.include_router(status.health_router)
    app.include_router(ops.router)  # /metrics and /v1/ready: probes carry no token
    protected = [Depends(require_token)]
    for module in (workflows, schedules, files, llm, batch, status):
        # The OpenAPI document lists every status a route answers, each with the ErrorBody schema.
        _document_body_errors(module.router)
        app.include_router(module.router, dependencies=protected, responses=error_responses(*COMMON_ERRORS))
    compat.install(app)  # OpenAI's and Ollama's API shapes (gleitzeit.api.compat)
    return app


def _document_body_errors(router: APIRouter) -> None:
    """Every route that parses a JSON body can answer 400 (not JSON) and 413 (over the body limit):
    listed here once, so a route added later cannot leave them out of the OpenAPI document. (The
    compatible routes read their bodies themselves and answer in their own APIs' error shapes.)"""
    for route in router.routes:
        if isinstance(route, APIRoute) and route.body_field is not None:
            for status_code, response in error_responses(*BODY_ERRORS).items():
                route.responses.setdefault(status_code, response)
