"""``/api/generate``: one prompt, raw or wrapped in the chat template, streamed or collected."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from gleitzeit.llm_server.ollama_shapes import (
    OllamaRequestError,
    format_to_llama,
    load_response,
    options_to_llama,
    vision_error,
)
from gleitzeit.llm_server.routes.answer import fit_context, respond
from gleitzeit.llm_server.routes.common import Backend, model_for, read_body, refuse_unsupported

__all__ = ["router"]

router = APIRouter()


@router.post("/api/generate")
async def generate(request: Request, backend: Backend) -> Response:
    started = time.perf_counter()
    body = await read_body(request)
    name, model = model_for(body, action="generate")
    refuse_unsupported(body, name)
    if body.get("images"):
        raise OllamaRequestError(vision_error(name))
    if body.get("suffix"):
        raise OllamaRequestError(f"registry.ollama.ai/library/{name} does not support insert")
    prompt = body.get("prompt") or ""
    if not isinstance(prompt, str):
        raise OllamaRequestError('"prompt" must be a string')
    if not prompt:
        return JSONResponse(load_response(name, chat=False, unload=body.get("keep_alive") in (0, "0")))
    sampling, num_predict, num_ctx = options_to_llama(body.get("options"))
    llama: dict[str, Any] = {**sampling, **format_to_llama(body.get("format"))}
    if body.get("raw"):
        llama["prompt"] = prompt
        is_chat = False
    else:
        # Without raw, Ollama wraps the prompt in the model's chat template (system first).
        system = body.get("system")
        llama["messages"] = ([{"role": "system", "content": str(system)}] if system else []) + [
            {"role": "user", "content": prompt}
        ]
        is_chat = True
    await fit_context(backend, llama, num_predict, num_ctx, chat=is_chat)
    return await respond(
        request, backend, llama, name=name, chat=False, stream=body.get("stream", True), started=started
    )
