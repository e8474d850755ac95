"""Ollama's API shape on ``gleitzeit serve``: ``/api/chat``, ``/api/generate`` (NDJSON streamed, as
Ollama's default, or whole), ``/api/embed``, ``/api/embeddings``, ``/api/tags``, ``/api/show``,
``/api/version``, ``/api/ps``.

Chat, generate and the embeddings are durable runs (``calls.py``), their answers built by the embedded
LLM server's own shape helpers (``gleitzeit.llm_server.ollama_shapes``); tags, show and ps are read
from the LLM server as they are (nothing to retry or record).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, create_model

from gleitzeit.api.compat.calls import CompatError, call_options, run_call, stream_call
from gleitzeit.api.compat.common import (
    OLLAMA_ERRORS,
    OllamaErrorBody,
    compat_responses,
    llm_server_get,
    openapi_body,
    parse_body,
    read_json,
    run_headers,
)
from gleitzeit.core.version import __version__
from gleitzeit.dsl.params import OLLAMA_OPTION_KEYS
from gleitzeit.llm_server.ollama_shapes import OllamaStreamTranslator, load_response
from gleitzeit.llm_server.routes.common import NDJSON, ndjson
from gleitzeit.llm_server.routes.models import OLLAMA_API_VERSION

__all__ = [
    "OllamaChatRequest",
    "OllamaEmbedRequest",
    "OllamaEmbeddingsRequest",
    "OllamaGenerateRequest",
    "OllamaMessage",
    "router",
]

router = APIRouter(prefix="/api", tags=["ollama-compatible"])

# Request keys passed on to the task as they are (the same names as the task parameters).
_PASSED = ("format", "keep_alive", "think", "system")


# The documented bodies. The routes read the JSON themselves, as Ollama does (unknown keys and options
# are ignored, ``name`` works for ``model``), so these only tell clients (and the OpenAPI document) the
# shape; the task's parameter model checks the values.
class _OllamaBody(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True)

    model: str = Field(min_length=1, description="the model (Ollama's older `name` works too)")


class OllamaMessage(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    role: Literal["system", "user", "assistant", "tool"]
    content: str | None  # required, as the task's messages take it (null: empty)
    images: list[str] | None = None
    tool_calls: Any = None
    name: Any = None


# Ollama's options this server passes on (the types the task's parameters take); others are ignored.
_OPTION_TYPES: dict[str, Any] = {
    "stop": str | list[str] | None,
    **{k: int | None for k in ("top_k", "seed", "num_ctx", "num_predict", "repeat_last_n", "mirostat")},
    **{k: int | None for k in ("num_keep", "num_batch", "num_thread")},
}
OllamaOptions = create_model(  # type: ignore[call-overload]
    "OllamaOptions",
    __config__=ConfigDict(extra="allow", strict=True),
    **{k: (_OPTION_TYPES.get(k, float | None), None) for k in OLLAMA_OPTION_KEYS},
)


class _OllamaGenerating(_OllamaBody):
    stream: bool | None = Field(default=None, description="default: true (NDJSON lines)")
    options: OllamaOptions | None = None  # type: ignore[valid-type]
    format: Literal["json"] | dict[str, Any] | None = None
    keep_alive: str | float | None = None
    think: bool | Literal["low", "medium", "high"] | None = None
    system: str | None = None


class OllamaChatRequest(_OllamaGenerating):
    messages: list[OllamaMessage] | None = Field(default=None, description="none or empty: load the model")


class OllamaGenerateRequest(_OllamaGenerating):
    prompt: str | None = Field(default=None, description="none or empty: load the model")


class OllamaEmbedRequest(_OllamaBody):
    input: str | Annotated[list[str], Field(min_length=1)]
    truncate: bool | None = None


class OllamaEmbeddingsRequest(_OllamaBody):
    prompt: str | None = None


async def _body(request: Request, model: type[BaseModel]) -> dict[str, Any]:
    """The JSON body, in the documented shape (400 naming each problem otherwise); the values are
    checked by the task's parameter model when the call starts."""
    body = await read_json(request)
    if "model" not in body and "name" in body:
        body = {**body, "model": body["name"]}
    parse_body(model, body, status=400)
    return body


def _model(body: dict[str, Any]) -> str:
    name = body.get("model") or body.get("name")
    if not isinstance(name, str) or not name:
        raise CompatError(400, "model is required")
    return name


def _params(body: dict[str, Any]) -> dict[str, Any]:
    params: dict[str, Any] = {"model": _model(body)}
    params.update({k: body[k] for k in _PASSED if body.get(k) is not None})
    options = body.get("options") or {}
    if not isinstance(options, dict):
        raise CompatError(400, '"options" must be an object')
    # Ollama warns about unknown options and goes on; so does this server (they are not passed on).
    params.update({k: v for k, v in options.items() if k in OLLAMA_OPTION_KEYS and v is not None})
    return params


def _final_of(translator: OllamaStreamTranslator, result: dict[str, Any]) -> None:
    translator.usage = {
        "prompt_tokens": result.get("prompt_tokens") or 0,
        "completion_tokens": result.get("tokens_used") or 0,
    }
    translator.done_reason = "length" if result.get("done_reason") == "length" else "stop"


async def _answer(
    request: Request, endpoint: str, method: str, params: dict[str, Any], *, chat: bool, stream: bool
) -> Response:
    started = time.perf_counter()
    opts = call_options(request)
    translator = OllamaStreamTranslator(params["model"], chat=chat, started=started)
    if not stream:
        result, workflow_id = await run_call(request, endpoint, method, params, opts)
        translator.content.append(str(result.get("response") or ""))
        _final_of(translator, result)
        return JSONResponse(translator.final(include_text=True), headers=run_headers(workflow_id))
    pieces, workflow_id = await stream_call(request, endpoint, method, params, opts)

    async def lines() -> AsyncIterator[bytes]:
        async for piece in pieces:
            if piece.error is not None:
                yield ndjson({"error": piece.error.message})  # Ollama reports mid-stream errors in-band
                return
            if piece.result is not None:
                _final_of(translator, piece.result)
                yield ndjson(translator.final(include_text=False))
                return
            line = translator.feed({"choices": [{"delta": {"content": piece.text}}]})
            if line is not None:
                yield ndjson(line)

    return StreamingResponse(lines(), media_type=NDJSON, headers=run_headers(workflow_id))


@router.post(
    "/chat",
    responses=compat_responses(OllamaErrorBody, *OLLAMA_ERRORS, ok=("application/json", NDJSON)),
    openapi_extra=openapi_body(OllamaChatRequest),
    summary="Ollama-compatible chat, run durably (NDJSON unless stream is false)",
)
async def chat(request: Request) -> Response:
    body = await _body(request, OllamaChatRequest)
    params = _params(body)
    messages = body.get("messages") or []
    if not isinstance(messages, list):
        raise CompatError(400, '"messages" must be a list')
    if not messages:  # Ollama's way to load a model: nothing to generate, nothing to record
        return JSONResponse(
            load_response(params["model"], chat=True, unload=body.get("keep_alive") in (0, "0"))
        )
    params["messages"] = messages
    stream = body.get("stream", True) is not False
    return await _answer(request, "POST /api/chat", "llm/chat", params, chat=True, stream=stream)


@router.post(
    "/generate",
    responses=compat_responses(OllamaErrorBody, *OLLAMA_ERRORS, ok=("application/json", NDJSON)),
    openapi_extra=openapi_body(OllamaGenerateRequest),
    summary="Ollama-compatible generate, run durably (NDJSON unless stream is false)",
)
async def generate(request: Request) -> Response:
    body = await _body(request, OllamaGenerateRequest)
    params = _params(body)
    prompt = body.get("prompt") or ""
    if not isinstance(prompt, str):
        raise CompatError(400, '"prompt" must be a string')
    if not prompt:
        return JSONResponse(
            load_response(params["model"], chat=False, unload=body.get("keep_alive") in (0, "0"))
        )
    params["prompt"] = prompt
    stream = body.get("stream", True) is not False
    return await _answer(request, "POST /api/generate", "llm/generate", params, chat=False, stream=stream)


@router.post(
    "/embed",
    responses=compat_responses(OllamaErrorBody, *OLLAMA_ERRORS),
    openapi_extra=openapi_body(OllamaEmbedRequest),
    summary="Ollama-compatible embeddings of one text or many, run durably",
)
async def embed(request: Request) -> Response:
    started = time.perf_counter()
    body = await _body(request, OllamaEmbedRequest)
    name = _model(body)
    texts = body.get("input", [])
    texts = [texts] if isinstance(texts, str) else texts
    if not isinstance(texts, list) or not texts or not all(isinstance(t, str) for t in texts):
        raise CompatError(400, '"input" must be a string or a non-empty list of strings')
    params: dict[str, Any] = {"model": name, "input": texts}
    if isinstance(body.get("truncate"), bool):
        params["truncate"] = body["truncate"]
    result, workflow_id = await run_call(
        request, "POST /api/embed", "llm/embed", params, call_options(request)
    )
    return JSONResponse(
        {
            "model": name,
            "embeddings": result.get("embeddings") or [],
            "total_duration": int((time.perf_counter() - started) * 1e9),
            "load_duration": 0,
            "prompt_eval_count": int(result.get("prompt_tokens") or 0),
        },
        headers=run_headers(workflow_id),
    )


@router.post(
    "/embeddings",
    responses=compat_responses(OllamaErrorBody, *OLLAMA_ERRORS),
    openapi_extra=openapi_body(OllamaEmbeddingsRequest),
    summary="Ollama's legacy embeddings endpoint (one prompt), run durably",
)
async def embeddings(request: Request) -> Response:
    body = await _body(request, OllamaEmbeddingsRequest)
    name = _model(body)
    prompt = body.get("prompt") or ""
    if not isinstance(prompt, str):
        raise CompatError(400, '"prompt" must be a string')
    if not prompt:
        return JSONResponse({"embedding": []})
    result, workflow_id = await run_call(
        request, "POST /api/embeddings", "llm/embed", {"model": name, "input": prompt}, call_options(request)
    )
    vectors = result.get("embeddings") or [[]]
    return JSONResponse({"embedding": vectors[0]}, headers=run_headers(workflow_id))


@router.get(
    "/tags",
    responses=compat_responses(OllamaErrorBody, 400, 401, 404, 500, 503),
    summary="The LLM server's models, in Ollama's shape",
)
async def tags(request: Request) -> Response:
    return JSONResponse(await llm_server_get(request, "/api/tags"))


@router.get(
    "/ps",
    responses=compat_responses(OllamaErrorBody, 400, 401, 404, 500, 503),
    summary="The LLM server's loaded models, in Ollama's shape",
)
async def ps(request: Request) -> Response:
    return JSONResponse(await llm_server_get(request, "/api/ps"))


@router.post(
    "/show",
    responses=compat_responses(OllamaErrorBody, 400, 401, 404, 500, 503),
    openapi_extra=openapi_body(_OllamaBody),
    summary="One model's details, in Ollama's shape",
)
async def show(request: Request) -> Response:
    body = await _body(request, _OllamaBody)
    return JSONResponse(await llm_server_get(request, "/api/show", {"model": _model(body)}))


@router.get(
    "/version",
    responses=compat_responses(OllamaErrorBody, 401, has_body=False),
    summary="The Ollama API version this server follows",
)
async def version() -> Response:
    return JSONResponse({"version": OLLAMA_API_VERSION, "gleitzeit": __version__})
