"""OpenAI's API shape: ``POST /v1/chat/completions``, ``/v1/completions`` and ``/v1/embeddings``.

Each call is a durable run (``calls.py``); the answer carries its id in ``X-Gleitzeit-Workflow-Id``.
``stream: true`` answers with server-sent events (``data: {chunk}`` lines, ``data: [DONE]`` last),
``stream_options.include_usage`` adds the usage chunk. ``GET /v1/models`` is in ``gleitzeit.api.llm``.
"""

from __future__ import annotations

import base64
import json
import struct
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from gleitzeit.api.compat.calls import CallOptions, CompatError, call_options, run_call, stream_call
from gleitzeit.api.compat.common import (
    OPENAI_ERRORS,
    OpenAIErrorBody,
    compat_responses,
    openapi_body,
    parse_body,
    read_json,
    run_headers,
)

__all__ = ["ChatCompletionRequest", "CompletionRequest", "EmbeddingRequest", "router"]

router = APIRouter(prefix="/v1", tags=["openai-compatible"])


class _Request(BaseModel):
    # OpenAI clients send fields this server has no use for (user, metadata, store ...): accepted.
    model_config = ConfigDict(extra="allow")


# The content parts this server takes: text (others are refused with a 400 that says so).
_TEXT_PARTS = {
    "type": "array",
    "items": {
        "type": "object",
        "required": ["type"],
        "properties": {"type": {"const": "text"}, "text": {"type": ["string", "null"]}},
    },
}


class ChatMessage(_Request):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: Annotated[
        str | list[dict[str, Any]] | None,
        WithJsonSchema({"anyOf": [{"type": "string"}, _TEXT_PARTS, {"type": "null"}]}),
    ] = None


class _Sampling(_Request):
    model: str = Field(min_length=1)
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1)
    max_completion_tokens: int | None = Field(default=None, ge=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    n: int | None = Field(default=None, ge=1, le=1, description="one choice per call")
    stream: bool = False
    stream_options: dict[str, Any] | None = None


class ChatCompletionRequest(_Sampling):
    messages: list[ChatMessage] = Field(min_length=1)
    response_format: dict[str, Any] | None = None


class CompletionRequest(_Sampling):
    prompt: str | Annotated[list[str], Field(min_length=1, max_length=1)] = Field(
        description="one prompt per call (a list of one string at most)"
    )


class EmbeddingRequest(_Request):
    model: str = Field(min_length=1)
    input: str | Annotated[list[str], Field(min_length=1)]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(default=None, ge=1)


def _content(message: ChatMessage) -> str:
    if message.content is None or isinstance(message.content, str):
        return message.content or ""
    texts = []
    for part in message.content:
        if part.get("type") != "text":
            raise CompatError(
                400,
                f"content parts of type {part.get('type')!r} are not supported here: send text",
                code="unsupported_content",
            )
        texts.append(str(part.get("text") or ""))
    return "".join(texts)


def _format(response_format: dict[str, Any] | None) -> Any:
    kind = (response_format or {}).get("type", "text")
    if kind == "text":
        return None
    if kind == "json_object":
        return "json"
    if kind == "json_schema":
        schema = (response_format or {}).get("json_schema", {}).get("schema")
        if not isinstance(schema, dict):
            raise CompatError(400, "response_format.json_schema.schema must be a JSON schema object")
        return schema
    raise CompatError(400, f"response_format type {kind!r}: use text, json_object or json_schema")


def _sampling(body: _Sampling) -> dict[str, Any]:
    if getattr(body, "tools", None):
        raise CompatError(400, "tools are not supported by this server", code="unsupported_parameter")
    params: dict[str, Any] = {
        "model": body.model,
        "temperature": body.temperature,
        "top_p": body.top_p,
        "max_tokens": body.max_completion_tokens or body.max_tokens,
        "stop": body.stop,
        "seed": body.seed,
        "presence_penalty": body.presence_penalty,
        "frequency_penalty": body.frequency_penalty,
    }
    return {k: v for k, v in params.items() if v is not None}


def _finish(result: dict[str, Any]) -> str:
    return "length" if result.get("done_reason") == "length" else "stop"


def _usage(result: dict[str, Any]) -> dict[str, int]:
    prompt, completion = int(result.get("prompt_tokens") or 0), int(result.get("tokens_used") or 0)
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


def _sse(data: dict[str, Any] | str) -> bytes:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return f"data: {text}\n\n".encode()


async def _answer(
    request: Request,
    endpoint: str,
    method: str,
    params: dict[str, Any],
    opts: CallOptions,
    body: _Sampling,
    shape: dict[str, Any],
) -> Response:
    """Run the call and answer whole or as SSE; ``shape`` says chat (``message``/``delta``) or text."""
    chat = shape["object"] == "chat.completion"
    created = int(time.time())
    if not body.stream:
        result, workflow_id = await run_call(request, endpoint, method, params, opts)
        text = str(result.get("response") or "")
        choice: dict[str, Any] = {"index": 0, "finish_reason": _finish(result), "logprobs": None}
        choice.update({"message": {"role": "assistant", "content": text}} if chat else {"text": text})
        return JSONResponse(
            {
                "id": f"{shape['prefix']}-{workflow_id}",
                "object": shape["object"],
                "created": created,
                "model": result.get("model") or body.model,
                "choices": [choice],
                "usage": _usage(result),
            },
            headers=run_headers(workflow_id),
        )
    include_usage = bool((body.stream_options or {}).get("include_usage"))
    pieces, workflow_id = await stream_call(request, endpoint, method, params, opts)
    base = {
        "id": f"{shape['prefix']}-{workflow_id}",
        "object": shape["object"] + ".chunk" if chat else shape["object"],
        "created": created,
        "model": body.model,
    }

    def chunk(text: str | None, finish: str | None, first: bool = False) -> dict[str, Any]:
        c: dict[str, Any] = {"index": 0, "finish_reason": finish, "logprobs": None}
        if chat:
            delta: dict[str, Any] = {"role": "assistant"} if first else {}
            if text is not None:
                delta["content"] = text
            c["delta"] = delta
        else:
            c["text"] = text or ""
        return {**base, "choices": [c]}

    async def events() -> AsyncIterator[bytes]:
        first = True
        async for piece in pieces:
            if piece.error is not None:
                error = {"message": piece.error.message, "type": piece.error.kind, "code": piece.error.code}
                yield _sse({"error": error})
                return
            if piece.result is not None:
                yield _sse(chunk(None, _finish(piece.result)))
                if include_usage:
                    yield _sse({**base, "choices": [], "usage": _usage(piece.result)})
                yield _sse("[DONE]")
                return
            yield _sse(chunk(piece.text, None, first))
            first = False

    return StreamingResponse(events(), media_type="text/event-stream", headers=run_headers(workflow_id))


@router.post(
    "/chat/completions",
    responses=compat_responses(OpenAIErrorBody, *OPENAI_ERRORS, ok=("application/json", "text/event-stream")),
    summary="OpenAI-compatible chat completion, run durably",
    openapi_extra=openapi_body(ChatCompletionRequest),
)
async def chat_completions(request: Request) -> Response:
    opts = call_options(request)
    body = parse_body(ChatCompletionRequest, await read_json(request))
    messages = [
        {"role": "system" if m.role == "developer" else m.role, "content": _content(m)} for m in body.messages
    ]
    params = {**_sampling(body), "messages": messages}
    fmt = _format(body.response_format)
    if fmt is not None:
        params["format"] = fmt
    shape = {"object": "chat.completion", "prefix": "chatcmpl"}
    return await _answer(request, "POST /v1/chat/completions", "llm/chat", params, opts, body, shape)


@router.post(
    "/completions",
    responses=compat_responses(OpenAIErrorBody, *OPENAI_ERRORS, ok=("application/json", "text/event-stream")),
    summary="OpenAI-compatible text completion, run durably",
    openapi_extra=openapi_body(CompletionRequest),
)
async def completions(request: Request) -> Response:
    opts = call_options(request)
    body = parse_body(CompletionRequest, await read_json(request))
    prompts = [body.prompt] if isinstance(body.prompt, str) else body.prompt
    if len(prompts) != 1:
        raise CompatError(400, "send one prompt per call (a list of one string at most)")
    params = {**_sampling(body), "prompt": prompts[0]}
    shape = {"object": "text_completion", "prefix": "cmpl"}
    return await _answer(request, "POST /v1/completions", "llm/generate", params, opts, body, shape)


@router.post(
    "/embeddings",
    responses=compat_responses(OpenAIErrorBody, *OPENAI_ERRORS),
    summary="OpenAI-compatible embeddings, run durably",
    openapi_extra=openapi_body(EmbeddingRequest),
)
async def embeddings(request: Request) -> Response:
    opts = call_options(request)
    body = parse_body(EmbeddingRequest, await read_json(request))
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts:
        raise CompatError(400, "input must not be empty")
    result, workflow_id = await run_call(
        request, "POST /v1/embeddings", "llm/embed", {"model": body.model, "input": texts}, opts
    )
    data = []
    for i, vector in enumerate(result.get("embeddings") or []):
        if body.dimensions:
            vector = vector[: body.dimensions]
        encoded: Any = vector
        if body.encoding_format == "base64":  # what the openai package asks for by default
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")
        data.append({"object": "embedding", "index": i, "embedding": encoded})
    tokens = int(result.get("prompt_tokens") or 0)
    return JSONResponse(
        {
            "object": "list",
            "data": data,
            "model": result.get("model") or body.model,
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        },
        headers=run_headers(workflow_id),
    )
