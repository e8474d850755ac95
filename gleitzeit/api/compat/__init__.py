"""OpenAI- and Ollama-compatible endpoints on ``gleitzeit serve``: any app or SDK that speaks either API
gets durable, retried, inspectable LLM calls by pointing its base URL here (docs/compatible_api.md).

``calls.py`` runs one call as a workflow, ``openai_routes.py`` and ``ollama_routes.py`` are the two
shapes, ``common.py`` their token check, body reader and error answers.
"""

from __future__ import annotations

from fastapi import Depends, FastAPI, Request
from fastapi.responses import JSONResponse

from gleitzeit.api.compat import ollama_routes, openai_routes
from gleitzeit.api.compat.calls import CompatError
from gleitzeit.api.compat.common import compat_error_response, compat_token

__all__ = ["install"]


def install(app: FastAPI) -> None:
    """Add the compatible routes (behind the API's bearer token) and their error answers to ``app``."""

    @app.exception_handler(CompatError)
    async def _compat(request: Request, exc: CompatError) -> JSONResponse:
        return compat_error_response(request, exc)

    for module in (openai_routes, ollama_routes):
        app.include_router(module.router, dependencies=[Depends(compat_token)])
