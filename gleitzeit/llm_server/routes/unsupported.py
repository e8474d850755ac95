"""Every other ``/api/...`` path: 501 for Ollama endpoints this server does not offer, 404 for the rest.

Its router catches all paths under ``/api/``, so ``create_app`` includes it after the others.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from gleitzeit.llm_server.routes.common import error, record

__all__ = ["router"]

router = APIRouter()


@router.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "HEAD"])
async def unsupported(request: Request, rest: str) -> Response:
    record(request, None)
    if rest in ("create", "copy", "delete", "push") or rest.startswith("blobs"):
        return error(501, f"/api/{rest} is not supported: this server serves a fixed set of bundled models")
    return error(404, f"/api/{rest} is not an Ollama API endpoint")
