"""``/api/embed`` (normalised vectors, many inputs) and the legacy ``/api/embeddings`` (one, as is)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from gleitzeit.llm_server.backend import normalise
from gleitzeit.llm_server.ollama_shapes import OllamaRequestError
from gleitzeit.llm_server.routes.common import Backend, model_for, read_body

__all__ = ["router"]

router = APIRouter()


@router.post("/api/embed")
async def embed(request: Request, backend: Backend) -> Response:
    started = time.perf_counter()
    body = await read_body(request)
    name, model = model_for(body, action="embed")
    raw_input = body.get("input", [])
    texts = [raw_input] if isinstance(raw_input, str) else raw_input
    if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
        raise OllamaRequestError('"input" must be a string or a list of strings')
    load_s = await backend.ensure_loaded(model)
    vectors, tokens = await backend.embed(texts, truncate=body.get("truncate", True)) if texts else ([], 0)
    dims = body.get("dimensions")
    if dims is not None:
        if not isinstance(dims, int) or dims <= 0:
            raise OllamaRequestError('"dimensions" must be a positive integer')
        vectors = [v[:dims] for v in vectors]
    return JSONResponse(
        {
            "model": name,
            "embeddings": [normalise(v) for v in vectors],
            "total_duration": int((time.perf_counter() - started) * 1e9),
            "load_duration": int(load_s * 1e9),
            "prompt_eval_count": tokens,
        }
    )


@router.post("/api/embeddings")
async def embeddings(request: Request, backend: Backend) -> Response:
    body = await read_body(request)
    name, model = model_for(body, action="embed")
    prompt = body.get("prompt") or ""
    if not isinstance(prompt, str):
        raise OllamaRequestError('"prompt" must be a string')
    await backend.ensure_loaded(model)
    if not prompt:
        return JSONResponse({"embedding": []})
    vectors, _ = await backend.embed([prompt])
    return JSONResponse({"embedding": vectors[0]})  # the legacy endpoint does not normalise
