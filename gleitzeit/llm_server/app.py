"""The FastAPI app of Ollama's REST API, served over ``LlamaBackend``.

Every answer has Ollama's shape, errors included (``{"error": "..."}`` with Ollama's status codes: 404
for an unknown model, 400 for a bad request). Streaming answers are NDJSON, one object per token piece
and a closing ``done: true`` object with counts and durations. The routes are ``APIRouter``s in
``gleitzeit.llm_server.routes``; they find the backend and the request log on ``app.state``.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from gleitzeit.llm_server.backend import BackendError, LlamaBackend
from gleitzeit.llm_server.ollama_shapes import OllamaRequestError
from gleitzeit.llm_server.request_log import RequestLog
from gleitzeit.llm_server.routes import chat, embed, generate, models, unsupported
from gleitzeit.llm_server.routes.common import error

__all__ = ["create_app"]


def create_app(backend: LlamaBackend, request_log: RequestLog | None = None) -> FastAPI:
    """The ASGI app; the caller owns ``backend`` (started before serving, closed after)."""
    app = FastAPI(title="gleitzeit embedded LLM server (Ollama API)", docs_url=None, redoc_url=None)
    app.state.backend = backend
    app.state.request_log = request_log

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error(exc.status_code, str(exc.detail))

    @app.exception_handler(OllamaRequestError)
    async def _request_error(request: Request, exc: OllamaRequestError) -> Response:
        return error(exc.status, str(exc))

    @app.exception_handler(BackendError)
    async def _backend_error(request: Request, exc: BackendError) -> Response:
        return error(exc.status, str(exc))

    for module in (models, chat, generate, embed):
        app.include_router(module.router)
    app.include_router(unsupported.router)  # last: it catches every other /api/... path
    return app
