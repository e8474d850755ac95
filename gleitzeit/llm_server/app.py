"""The FastAPI routes of Ollama's REST API, served over ``LlamaBackend``.

Every answer has Ollama's shape, errors included (``{"error": "..."}`` with Ollama's status codes: 404
for an unknown model, 400 for a bad request). Streaming answers are NDJSON, one object per token piece
and a closing ``done: true`` object with counts and durations.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

import gleitzeit
from gleitzeit.llm_server.backend import BackendError, LlamaBackend, normalise
from gleitzeit.llm_server.models import EMBED_MODEL, MODELS, ServedModel, resolve_model
from gleitzeit.llm_server.ollama_shapes import (
    OllamaRequestError,
    OllamaStreamTranslator,
    chat_messages,
    format_to_llama,
    load_response,
    options_to_llama,
    vision_error,
)
from gleitzeit.llm_server.request_log import RequestLog

__all__ = ["OLLAMA_API_VERSION", "create_app"]

log = logging.getLogger(__name__)

# The Ollama release whose REST API this server follows (clients compare it to enable features).
OLLAMA_API_VERSION = "0.11.0"
NDJSON = "application/x-ndjson"
# Message bytes plus template overhead bound the prompt's tokens from above (a token is >= 1 byte).
_TEMPLATE_TOKENS_PER_MESSAGE = 16
_DEFAULT_SYSTEM_TOKENS = 64


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


def _ndjson(obj: dict[str, Any]) -> bytes:
    return (json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode()


def create_app(backend: LlamaBackend, request_log: RequestLog | None = None) -> FastAPI:
    """The ASGI app; the caller owns ``backend`` (started before serving, closed after)."""
    app = FastAPI(title="gleitzeit embedded LLM server (Ollama API)", docs_url=None, redoc_url=None)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(OllamaRequestError)
    async def _request_error(request: Request, exc: OllamaRequestError) -> Response:
        return _error(exc.status, str(exc))

    @app.exception_handler(BackendError)
    async def _backend_error(request: Request, exc: BackendError) -> Response:
        return _error(exc.status, str(exc))

    async def body_of(request: Request) -> dict[str, Any]:
        raw = await request.body()
        body: Any = {}
        if raw.strip():
            try:
                body = json.loads(raw)
            except json.JSONDecodeError as exc:
                _record(request, None)
                raise OllamaRequestError(f"invalid JSON in request body: {exc}") from exc
        if not isinstance(body, dict):
            _record(request, None)
            raise OllamaRequestError("the request body must be a JSON object")
        _record(request, body)
        return body

    def _record(request: Request, body: dict[str, Any] | None) -> None:
        if request_log is not None:
            request_log.record(
                method=request.method,
                path=request.url.path,
                body=body,
                request_id=request.headers.get("x-request-id"),
            )

    def model_for(body: dict[str, Any], *, action: str) -> tuple[str, ServedModel]:
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

    # -- plain endpoints ---------------------------------------------------------------------------

    @app.api_route("/", methods=["GET", "HEAD"])
    async def root() -> Response:
        return PlainTextResponse("Ollama is running (gleitzeit embedded server)")

    @app.get("/api/version")
    async def version(request: Request) -> Response:
        _record(request, None)
        return JSONResponse({"version": OLLAMA_API_VERSION, "gleitzeit": gleitzeit.__version__})

    @app.get("/api/tags")
    async def tags(request: Request) -> Response:
        _record(request, None)
        return JSONResponse({"models": [m.tag_entry() for m in MODELS if m.available]})

    @app.get("/api/ps")
    async def ps(request: Request) -> Response:
        _record(request, None)
        # Models stay loaded for the server's life; Ollama reports an expiry, so report a far one.
        expires = (datetime.now(UTC) + timedelta(days=365)).isoformat().replace("+00:00", "Z")
        models = []
        for loaded in backend.loaded():
            entry = loaded.model.tag_entry()
            entry.pop("modified_at", None)
            entry.update(expires_at=expires, size_vram=0, context_length=loaded.context_length)
            models.append(entry)
        return JSONResponse({"models": models})

    @app.post("/api/show")
    async def show(request: Request) -> Response:
        body = await body_of(request)
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

    @app.post("/api/pull")
    async def pull(request: Request) -> Response:
        body = await body_of(request)
        name = body.get("model") or body.get("name")
        model = resolve_model(name) if isinstance(name, str) else None
        if model is None:
            served = ", ".join(m.name for m in MODELS)
            return _error(
                404,
                f"pull model manifest: file does not exist: '{name}' is not bundled with this server, which "
                f"cannot download models (bundled: {served})",
            )
        if not model.available and model.kind == "chat":
            return _error(500, f"model '{name}' is not installed: {model.install_hint}")
        statuses = [
            {"status": f"{model.name} is bundled with this server; nothing to download"},
            {"status": "success"},
        ]
        if body.get("stream", True):
            return StreamingResponse(iter([_ndjson(s) for s in statuses]), media_type=NDJSON)
        return JSONResponse(statuses[-1])

    # -- generation ---------------------------------------------------------------------------------

    async def fit_context(
        llama: dict[str, Any], num_predict: int | None, num_ctx: int | None, *, chat: bool
    ) -> None:
        """Apply num_ctx / num_predict the way Ollama does: drop the oldest turns, cap the answer."""
        slot = backend.config.ctx_per_slot
        ctx = min(num_ctx, slot) if num_ctx and num_ctx > 0 else slot
        if num_predict is not None and num_predict > 0:
            llama["max_tokens"] = num_predict
        texts = [m["content"] for m in llama["messages"]] if chat else [llama["prompt"]]
        bound = sum(len(t.encode()) + _TEMPLATE_TOKENS_PER_MESSAGE for t in texts) + _DEFAULT_SYSTEM_TOKENS
        bounded_answer = num_predict is not None and num_predict > 0
        if bound + (num_predict if bounded_answer and num_predict else 0) <= ctx and (
            bounded_answer or ctx == slot
        ):
            return  # certainly fits; llama.cpp stops at the slot's end by itself
        if chat:
            n = await backend.count_chat_tokens(llama["messages"])
            while n >= ctx and sum(m["role"] != "system" for m in llama["messages"]) > 1:
                drop = next(i for i, m in enumerate(llama["messages"]) if m["role"] != "system")
                del llama["messages"][drop]
                n = await backend.count_chat_tokens(llama["messages"])
        else:
            n = await backend.count_text_tokens(llama["prompt"])
        if n >= ctx:
            raise OllamaRequestError(
                f"the prompt has {n} tokens and does not fit the context of {ctx} tokens "
                f"(the server's per-request context is {slot}; start it with a larger --ctx-size)"
            )
        room = ctx - n
        llama["max_tokens"] = min(num_predict, room) if bounded_answer and num_predict else room

    async def respond(
        llama: dict[str, Any], *, name: str, chat: bool, stream: bool, started: float
    ) -> Response:
        """Run ``llama`` (messages -> chat template, prompt -> raw) and answer in /api/chat's shape
        when ``chat`` else in /api/generate's."""
        translator = OllamaStreamTranslator(name, chat=chat, started=started)
        chunks = backend.stream(llama, chat="messages" in llama)
        try:
            first: dict[str, Any] | None = await chunks.__anext__()
        except StopAsyncIteration:
            first = None
        except BackendError as exc:  # before anything was sent: answer with a real status
            await chunks.aclose()
            return _error(exc.status, str(exc))

        if not stream:
            try:
                if first is not None:
                    translator.feed(first)
                    async for chunk in chunks:
                        translator.feed(chunk)
            except BackendError as exc:
                return _error(exc.status, str(exc))
            finally:
                await chunks.aclose()
            return JSONResponse(translator.final(include_text=True))

        async def lines() -> AsyncIterator[bytes]:
            try:
                if first is not None:
                    piece = translator.feed(first)
                    if piece is not None:
                        yield _ndjson(piece)
                    async for chunk in chunks:
                        piece = translator.feed(chunk)
                        if piece is not None:
                            yield _ndjson(piece)
                yield _ndjson(translator.final(include_text=False))
            except BackendError as exc:
                yield _ndjson({"error": str(exc)})  # Ollama reports mid-stream errors in-band
            finally:
                await chunks.aclose()

        return StreamingResponse(lines(), media_type=NDJSON)

    def refuse_unsupported(body: dict[str, Any], name: str) -> None:
        if body.get("think"):
            raise OllamaRequestError(f'"{name}" does not support thinking')
        if body.get("tools"):
            raise OllamaRequestError(f"registry.ollama.ai/library/{name} does not support tools")

    @app.post("/api/chat")
    async def chat(request: Request) -> Response:
        started = time.perf_counter()
        body = await body_of(request)
        name, model = model_for(body, action="chat")
        refuse_unsupported(body, name)
        messages = chat_messages(body.get("messages") or [], name)
        if not messages:
            return JSONResponse(load_response(name, chat=True, unload=body.get("keep_alive") in (0, "0")))
        sampling, num_predict, num_ctx = options_to_llama(body.get("options"))
        llama: dict[str, Any] = {"messages": messages, **sampling, **format_to_llama(body.get("format"))}
        await fit_context(llama, num_predict, num_ctx, chat=True)
        return await respond(llama, name=name, chat=True, stream=body.get("stream", True), started=started)

    @app.post("/api/generate")
    async def generate(request: Request) -> Response:
        started = time.perf_counter()
        body = await body_of(request)
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
        await fit_context(llama, num_predict, num_ctx, chat=is_chat)
        return await respond(llama, name=name, chat=False, stream=body.get("stream", True), started=started)

    @app.post("/api/embed")
    async def embed(request: Request) -> Response:
        started = time.perf_counter()
        body = await body_of(request)
        name, model = model_for(body, action="embed")
        raw_input = body.get("input", [])
        texts = [raw_input] if isinstance(raw_input, str) else raw_input
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            raise OllamaRequestError('"input" must be a string or a list of strings')
        load_s = await backend.ensure_loaded(model)
        vectors, tokens = (
            await backend.embed(texts, truncate=body.get("truncate", True)) if texts else ([], 0)
        )
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

    @app.post("/api/embeddings")
    async def embeddings(request: Request) -> Response:
        body = await body_of(request)
        name, model = model_for(body, action="embed")
        prompt = body.get("prompt") or ""
        if not isinstance(prompt, str):
            raise OllamaRequestError('"prompt" must be a string')
        await backend.ensure_loaded(model)
        if not prompt:
            return JSONResponse({"embedding": []})
        vectors, _ = await backend.embed([prompt])
        return JSONResponse({"embedding": vectors[0]})  # the legacy endpoint does not normalise

    @app.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "DELETE", "HEAD"])
    async def unsupported(request: Request, rest: str) -> Response:
        _record(request, None)
        if rest in ("create", "copy", "delete", "push") or rest.startswith("blobs"):
            return _error(
                501, f"/api/{rest} is not supported: this server serves a fixed set of bundled models"
            )
        return _error(404, f"/api/{rest} is not an Ollama API endpoint")

    return app
