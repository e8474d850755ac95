"""``/api/chat``: a conversation in the chat model's template, streamed or collected."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from gleitzeit.llm_server.ollama_shapes import chat_messages, format_to_llama, load_response, options_to_llama
from gleitzeit.llm_server.routes.answer import fit_context, respond
from gleitzeit.llm_server.routes.common import Backend, model_for, read_body, refuse_unsupported

__all__ = ["router"]

router = APIRouter()


@router.post("/api/chat")
async def chat(request: Request, backend: Backend) -> Response:
    started = time.perf_counter()
    body = await read_body(request)
    name, model = model_for(body, action="chat")
    refuse_unsupported(body, name)
    messages = chat_messages(body.get("messages") or [], name)
    if not messages:
        return JSONResponse(load_response(name, chat=True, unload=body.get("keep_alive") in (0, "0")))
    sampling, num_predict, num_ctx = options_to_llama(body.get("options"))
    llama: dict[str, Any] = {"messages": messages, **sampling, **format_to_llama(body.get("format"))}
    await fit_context(backend, llama, num_predict, num_ctx, chat=True)
    return await respond(
        request, backend, llama, name=name, chat=True, stream=body.get("stream", True), started=started
    )
