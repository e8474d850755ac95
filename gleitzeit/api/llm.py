"""``/v1/chat``, ``/v1/chat/stream`` and ``/v1/models``."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from gleitzeit.api.deps import backend_of
from gleitzeit.api.errors import BODY_ERRORS, error_responses
from gleitzeit.api.schemas import ChatRequest, ChatResponse, ModelEntry, ModelsResponse
from gleitzeit.client.specs import chat_messages_for
from gleitzeit.client.wire import error_to_dict
from gleitzeit.core.errors import GleitzeitError, ValidationError

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["llm"])


def _messages_and_options(body: ChatRequest) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    if (body.messages is None) == (body.prompt is None):
        raise ValidationError("give either 'prompt' or 'messages'")
    messages = (
        body.messages if body.messages is not None else chat_messages_for(body.prompt or "", body.system)
    )
    options = dict(body.options)
    options.setdefault("temperature", body.temperature)
    options.setdefault("max_tokens", body.max_tokens)
    if body.messages is not None and body.system:
        options.setdefault("system", body.system)
    return messages, options


@router.post(
    "/chat",
    response_model=ChatResponse,
    responses=error_responses(*BODY_ERRORS, 404, 424, 504),
    summary="One durable chat turn",
)
async def chat(body: ChatRequest, request: Request) -> ChatResponse:
    backend = backend_of(request)
    messages, options = _messages_and_options(body)
    model = await backend.resolve_model(body.model)
    text = await backend.chat(messages, model, options)
    return ChatResponse(response=text, model=model)


@router.post(
    "/chat/stream",
    responses={
        200: {"content": {"application/x-ndjson": {}}, "description": "the answer as NDJSON lines"},
        **error_responses(*BODY_ERRORS, 404),
    },
    summary='Stream a chat answer as NDJSON lines: {"chunk": ...}, then {"done": true} or {"error": ...}',
)
async def chat_stream(body: ChatRequest, request: Request) -> StreamingResponse:
    backend = backend_of(request)
    messages, options = _messages_and_options(body)
    model = await backend.resolve_model(body.model)
    stream = backend.chat_stream(messages, model, options)
    # Fail before the 200 goes out when the very first chunk fails (unknown model, no server).
    try:
        first: str | None = await anext(stream)
    except StopAsyncIteration:
        first = None

    async def lines() -> AsyncIterator[bytes]:
        try:
            if first is not None:
                yield (json.dumps({"chunk": first}) + "\n").encode()
            async for chunk in stream:
                yield (json.dumps({"chunk": chunk}) + "\n").encode()
            yield (json.dumps({"done": True, "model": model}) + "\n").encode()
        except GleitzeitError as exc:
            yield (json.dumps({"error": error_to_dict(exc)}) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get(
    "/models", response_model=ModelsResponse, summary="Models the LLM server has (OpenAI's list shape)"
)
async def models(request: Request, details: bool = False) -> ModelsResponse:
    backend = backend_of(request)
    if not details:
        return ModelsResponse(
            data=[ModelEntry(id=name) for name in await backend.list_models()],
            default_model=backend.settings.default_model,
        )
    described = await backend.describe_models()
    return ModelsResponse(
        data=[ModelEntry(id=m.name, created=_unix(m.modified_at)) for m in described],
        default_model=backend.settings.default_model,
        details=described,
    )


def _unix(stamp: str | None) -> int:
    try:
        return int(datetime.fromisoformat(stamp).timestamp()) if stamp else 0
    except ValueError:
        return 0
