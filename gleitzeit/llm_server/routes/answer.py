"""Generation shared by ``/api/chat`` and ``/api/generate``: fit the prompt into the context the way
Ollama does, then run it and answer streamed (NDJSON) or collected."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from gleitzeit.llm_server.backend import BackendError, LlamaBackend
from gleitzeit.llm_server.ollama_shapes import OllamaRequestError, OllamaStreamTranslator
from gleitzeit.llm_server.routes.common import NDJSON, error, ndjson

__all__ = ["fit_context", "respond"]

# Message bytes plus template overhead bound the prompt's tokens from above (a token is >= 1 byte).
_TEMPLATE_TOKENS_PER_MESSAGE = 16
_DEFAULT_SYSTEM_TOKENS = 64


async def fit_context(
    backend: LlamaBackend,
    llama: dict[str, Any],
    num_predict: int | None,
    num_ctx: int | None,
    *,
    chat: bool,
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


async def _gone(request: Request) -> None:
    """Returns when the client has gone away. The body is read already, so the next ASGI message is
    the disconnect."""
    while (await request.receive())["type"] != "http.disconnect":
        pass


async def respond(
    request: Request,
    backend: LlamaBackend,
    llama: dict[str, Any],
    *,
    name: str,
    chat: bool,
    stream: bool,
    started: float,
) -> Response:
    """Run ``llama`` (messages -> chat template, prompt -> raw) and answer in /api/chat's shape
    when ``chat`` else in /api/generate's.

    A client that goes away stops its generation, as with Ollama: a stream notices at its next write;
    a collected answer is watched for the disconnect (Gleitzeit's LLM tasks ask for collected answers,
    and a cancelled task must free its slot, not hold it until the answer's last token)."""
    translator = OllamaStreamTranslator(name, chat=chat, started=started)
    chunks = backend.stream(llama, chat="messages" in llama)
    try:
        first: dict[str, Any] | None = await chunks.__anext__()
    except StopAsyncIteration:
        first = None
    except BackendError as exc:  # before anything was sent: answer with a real status
        await chunks.aclose()
        return error(exc.status, str(exc))

    if not stream:

        async def collect() -> None:
            if first is not None:
                translator.feed(first)
                async for chunk in chunks:
                    translator.feed(chunk)

        collecting, watching = asyncio.ensure_future(collect()), asyncio.ensure_future(_gone(request))
        try:
            await asyncio.wait({collecting, watching}, return_when=asyncio.FIRST_COMPLETED)
            if not collecting.done():  # the client went away: nobody will read the answer
                collecting.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await collecting
                return Response(status_code=499)
            collecting.result()
        except BackendError as exc:
            return error(exc.status, str(exc))
        finally:
            watching.cancel()
            await chunks.aclose()  # sets the backend's stop flag: llama.cpp ends the request
        return JSONResponse(translator.final(include_text=True))

    async def lines() -> AsyncIterator[bytes]:
        try:
            if first is not None:
                piece = translator.feed(first)
                if piece is not None:
                    yield ndjson(piece)
                async for chunk in chunks:
                    piece = translator.feed(chunk)
                    if piece is not None:
                        yield ndjson(piece)
            yield ndjson(translator.final(include_text=False))
        except BackendError as exc:
            yield ndjson({"error": str(exc)})  # Ollama reports mid-stream errors in-band
        finally:
            await chunks.aclose()

    return StreamingResponse(lines(), media_type=NDJSON)
