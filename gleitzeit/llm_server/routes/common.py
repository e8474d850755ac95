"""What the routes share: the backend (a FastAPI dependency on ``app.state``), the request log, the
body reader, the model lookup, and Ollama's error and NDJSON shapes."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from gleitzeit.llm_server.backend import LlamaBackend
from gleitzeit.llm_server.models import EMBED_MODEL, MODELS, ServedModel, resolve_model
from gleitzeit.llm_server.ollama_shapes import OllamaRequestError
from gleitzeit.llm_server.request_log import RequestLog

__all__ = [
    "NDJSON",
    "Backend",
    "backend_of",
    "error",
    "model_for",
    "ndjson",
    "read_body",
    "record",
    "refuse_unsupported",
]

NDJSON = "application/x-ndjson"


def backend_of(request: Request) -> LlamaBackend:
    """The app's backend (``app.state.backend``, set by ``create_app``)."""
    backend: LlamaBackend = request.app.state.backend
    return backend


Backend = Annotated[LlamaBackend, Depends(backend_of)]


def error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def ndjson(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def record(request: Request, body: dict[str, Any] | None) -> None:
    """One line in the request log (``app.state.request_log``), when the server keeps one."""
    request_log: RequestLog | None = request.app.state.request_log
    if request_log is not None:
        request_log.record(
            method=request.method,
            path=request.url.path,
            body=body,
            request_id=request.headers.get("x-request-id"),
        )


async def read_body(request: Request) -> dict[str, Any]:
    """The JSON object in the request body (empty: ``{}``), recorded in the request log."""
    raw = await request.body()
    body: Any = {}
    if raw.strip():
        try:
            body = json.loads(raw)
        except json.JSONDecodeError as exc:
            record(request, None)
            raise OllamaRequestError(f"invalid JSON in request body: {exc}") from exc
    if not isinstance(body, dict):
        record(request, None)
        raise OllamaRequestError("the request body must be a JSON object")
    record(request, body)
    return body


def model_for(body: dict[str, Any], *, action: str) -> tuple[str, ServedModel]:
    """The model a request names (``model``, or ``name``), checked for ``action``; 404 if unknown."""
    name = body.get("model") or body.get("name")
    if not name or not isinstance(name, str):
        raise OllamaRequestError("model is required")
    model = resolve_model(name)
    if model is None:
        served = ", ".join(m.name for m in MODELS)
        raise OllamaRequestError(f"model '{name}' not found (this server has: {served})", status=404)
    if action in ("chat", "generate") and model.kind != "chat":
        raise OllamaRequestError(f'"{name}" does not support {action}')
    if action == "embed" and model.kind != "embed":
        raise OllamaRequestError(
            f'"{name}" does not support embeddings (use {EMBED_MODEL.name} for embeddings)'
        )
    return name, model


def refuse_unsupported(body: dict[str, Any], name: str) -> None:
    if body.get("think"):
        raise OllamaRequestError(f'"{name}" does not support thinking')
    if body.get("tools"):
        raise OllamaRequestError(f"registry.ollama.ai/library/{name} does not support tools")
