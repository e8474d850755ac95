"""``/``, ``/api/version``, ``/api/tags``, ``/api/ps``, ``/api/show``, ``/api/pull``: the server and its models."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse

from gleitzeit.core.version import __version__
from gleitzeit.llm_server.models import EMBED_MODEL, MODELS, resolve_model
from gleitzeit.llm_server.routes.common import NDJSON, Backend, error, model_for, ndjson, read_body, record

__all__ = ["OLLAMA_API_VERSION", "router"]

# The Ollama release whose REST API this server follows (clients compare it to enable features).
OLLAMA_API_VERSION = "0.11.0"

router = APIRouter()


@router.api_route("/", methods=["GET", "HEAD"])
async def root() -> Response:
    return PlainTextResponse("Ollama is running (gleitzeit embedded server)")


@router.get("/api/version")
async def version(request: Request) -> Response:
    record(request, None)
    return JSONResponse({"version": OLLAMA_API_VERSION, "gleitzeit": __version__})


@router.get("/api/tags")
async def tags(request: Request) -> Response:
    record(request, None)
    return JSONResponse({"models": [m.tag_entry() for m in MODELS if m.available]})


@router.get("/api/ps")
async def ps(request: Request, backend: Backend) -> Response:
    record(request, None)
    # Models stay loaded for the server's life; Ollama reports an expiry, so report a far one.
    expires = (datetime.now(UTC) + timedelta(days=365)).isoformat().replace("+00:00", "Z")
    models = []
    for loaded in backend.loaded():
        entry = loaded.model.tag_entry()
        entry.pop("modified_at", None)
        entry.update(expires_at=expires, size_vram=0, context_length=loaded.context_length)
        models.append(entry)
    return JSONResponse({"models": models})


@router.post("/api/show")
async def show(request: Request, backend: Backend) -> Response:
    body = await read_body(request)
    name, model = model_for(body, action="show")
    if model is EMBED_MODEL and not backend.is_loaded(model):
        await backend.ensure_loaded(model)
    meta = model.metadata
    info = {k: (None if isinstance(v, str) and v.startswith("<array of") else v) for k, v in meta.items()}
    info.pop("tokenizer.chat_template", None)
    return JSONResponse(
        {
            "license": "Apache-2.0",
            "modelfile": f"# bundled with gleitzeit (read-only)\nFROM {model.path}\n",
            "parameters": "",
            "template": str(meta.get("tokenizer.chat_template", "")),
            "details": model.details(),
            "model_info": info,
            "capabilities": list(model.capabilities),
            "modified_at": model.modified_at,
        }
    )


@router.post("/api/pull")
async def pull(request: Request) -> Response:
    body = await read_body(request)
    name = body.get("model") or body.get("name")
    model = resolve_model(name) if isinstance(name, str) else None
    if model is None:
        served = ", ".join(m.name for m in MODELS)
        return error(
            404,
            f"pull model manifest: file does not exist: '{name}' is not bundled with this server, which "
            f"cannot download models (bundled: {served})",
        )
    if not model.available and model.kind == "chat":
        return error(500, f"model '{name}' is not installed: {model.install_hint}")
    statuses = [
        {"status": f"{model.name} is bundled with this server; nothing to download"},
        {"status": "success"},
    ]
    if body.get("stream", True):
        return StreamingResponse(iter([ndjson(s) for s in statuses]), media_type=NDJSON)
    return JSONResponse(statuses[-1])
