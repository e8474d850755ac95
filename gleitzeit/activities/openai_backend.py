"""llm/* tasks against an OpenAI-compatible server (``provider: openai``), through the official ``openai``
package.

vLLM, llama.cpp's server, LM Studio and OpenAI itself speak ``/v1/chat/completions`` and
``/v1/embeddings``. A task picks one with ``provider: openai`` and ``base_url`` (in the task, the
pipeline's ``providers:`` block, or the worker's ``GLEITZEIT_LLM_PROVIDER`` /
``GLEITZEIT_OPENAI_BASE_URL``); the key is read here, on the worker, from the environment variable
``api_key_env`` names, so it never travels through Temporal. Temporal owns retries: the clients are
made with ``max_retries=0``, and errors are translated once into retryable / non-retryable failures.
llm/generate is sent as a chat (Ollama wraps a prompt in the chat template the same way).
"""

from __future__ import annotations

import asyncio
import os
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from temporalio.exceptions import ApplicationError

from gleitzeit.activities.common import heartbeating, non_retryable, retryable
from gleitzeit.config import Settings
from gleitzeit.dsl.params import EmbedParams, LlmParams, TextParams

# The openai package takes ~0.8 s to import: only a task with provider openai pays it, not every
# process that builds a worker (`gleitzeit run`, `gleitzeit worker`, a native client; bench row 7).
if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIBackend", "OpenAIFinal", "translate_openai_error"]

# Used when no key is configured: local servers ignore it, and the openai client refuses an empty one.
_NO_KEY = "not-needed"
# Sampling options OpenAI's API has; the others go in the body as extras (vLLM and llama.cpp read them).
_OPENAI_OPTIONS = ("temperature", "top_p", "seed", "presence_penalty", "frequency_penalty")
_EXTRA_OPTIONS = ("top_k", "min_p", "typical_p", "repeat_penalty")


@dataclass
class OpenAIFinal:
    """What the text result reads from a finished answer (the names of Ollama's final chunk)."""

    model: str
    eval_count: int = 0
    prompt_eval_count: int = 0
    done_reason: str | None = None
    total_duration: int | None = None


def translate_openai_error(exc: BaseException, model: str, base_url: str) -> ApplicationError:
    """An ``openai`` failure as a retryable or non-retryable ApplicationError."""
    if isinstance(exc, ApplicationError):
        return exc
    import openai

    if isinstance(exc, openai.APIStatusError):
        status, text = exc.status_code, exc.message
        if status == 404:
            return non_retryable(
                f"model '{model}' is not available on the OpenAI-compatible server {base_url}: {text}",
                "ModelNotFound",
                model=model,
                status=status,
            )
        if status in (408, 409, 429) or status >= 500:
            return retryable(f"LLM server error {status}: {text}", "LLMServerError", status=status)
        return non_retryable(
            f"the OpenAI-compatible server {base_url} rejected the request ({status}): {text}",
            "InvalidParameters",
            status=status,
        )
    if isinstance(exc, openai.APITimeoutError | httpx.TimeoutException):
        return retryable(f"LLM request to {base_url} timed out: {exc}", "LLMTimeout")
    if isinstance(exc, openai.APIConnectionError | httpx.TransportError | ConnectionError):
        return retryable(f"LLM server {base_url} unreachable or connection dropped: {exc}", "LLMUnavailable")
    return retryable(f"LLM call failed: {type(exc).__name__}: {exc}", "LLMError")


class OpenAIBackend:
    """The OpenAI-compatible side of the LLM activities, bound to the worker's settings."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # Per event loop and (base_url, key): one client, whose connection pool the calls share.
        self._clients: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[str, str], openai.AsyncOpenAI]
        ] = weakref.WeakKeyDictionary()

    def applies(self, params: LlmParams) -> bool:
        """Whether this task goes to an OpenAI-compatible server."""
        return (params.provider or self._settings.llm_provider) == "openai"

    def _client(self, params: LlmParams) -> tuple[openai.AsyncOpenAI, str]:
        base_url = params.base_url or self._settings.openai_base_url
        if not base_url:
            raise non_retryable(
                "provider openai needs a base_url: set it on the task, in the pipeline's "
                "'providers: {openai: {base_url: ...}}' block, or GLEITZEIT_OPENAI_BASE_URL on the worker",
                "InvalidParameters",
                key="base_url",
            )
        env = params.api_key_env or self._settings.openai_api_key_env
        key = os.environ.get(env)
        if key is None and params.api_key_env:
            raise non_retryable(
                f"api_key_env names '{env}', but the worker has no such environment variable: set it "
                "where the worker runs (the key never travels with the task)",
                "InvalidParameters",
                key="api_key_env",
            )
        clients = self._clients.setdefault(asyncio.get_running_loop(), {})
        client = clients.get((base_url, key or _NO_KEY))
        if client is None:
            import openai

            client = openai.AsyncOpenAI(
                base_url=base_url,
                api_key=key or _NO_KEY,
                max_retries=0,  # Temporal retries the attempt
                timeout=self._settings.llm_timeout,
            )
            clients[(base_url, key or _NO_KEY)] = client
        return client, base_url

    async def chat(
        self,
        params: TextParams,
        model: str,
        messages: list[dict[str, Any]],
        timeout: float,
        request_id: str,
        publish: Callable[[str], None] | None,
    ) -> tuple[str, OpenAIFinal]:
        """One chat completion; streamed when something needs heartbeats or the chunks (``publish``)."""
        client, base_url = self._client(params)
        kwargs = _chat_kwargs(params, model, [_openai_message(m) for m in messages])
        started = time.perf_counter()
        try:
            if publish is None:  # streamed only for a listener, as LlmActivities._stream_text says why
                async with heartbeating():
                    answer = await client.chat.completions.create(
                        **kwargs, timeout=timeout, extra_headers={"X-Request-Id": request_id}
                    )
                choice = answer.choices[0] if answer.choices else None
                text = (choice.message.content if choice else None) or ""
                usage = answer.usage
                return text, OpenAIFinal(
                    model=answer.model or model,
                    eval_count=usage.completion_tokens if usage else 0,
                    prompt_eval_count=usage.prompt_tokens if usage else 0,
                    done_reason=_done_reason(choice.finish_reason if choice else None),
                    total_duration=int((time.perf_counter() - started) * 1e9),
                )
            pieces: list[str] = []
            final = OpenAIFinal(model=model)
            async with heartbeating(lambda: {"chars": sum(map(len, pieces))}):
                chunks = await client.chat.completions.create(
                    **kwargs,
                    stream=True,
                    stream_options={"include_usage": True},
                    timeout=timeout,
                    extra_headers={"X-Request-Id": request_id},
                )
                async for chunk in chunks:
                    final.model = chunk.model or final.model
                    if chunk.usage:
                        final.eval_count = chunk.usage.completion_tokens
                        final.prompt_eval_count = chunk.usage.prompt_tokens
                    for c in chunk.choices:
                        if c.finish_reason:
                            final.done_reason = _done_reason(c.finish_reason)
                        text = c.delta.content or "" if c.delta else ""
                        if text:
                            pieces.append(text)
                            publish(text)
            final.total_duration = int((time.perf_counter() - started) * 1e9)
            return "".join(pieces), final
        except Exception as exc:
            raise translate_openai_error(exc, model, base_url) from exc

    async def embed(
        self, params: EmbedParams, model: str, texts: list[str], timeout: float, request_id: str
    ) -> tuple[list[list[float]], str, int]:
        """(vectors, model, prompt tokens) from ``/v1/embeddings``."""
        client, base_url = self._client(params)
        try:
            async with heartbeating():
                answer = await client.embeddings.create(
                    model=model, input=texts, timeout=timeout, extra_headers={"X-Request-Id": request_id}
                )
        except Exception as exc:
            raise translate_openai_error(exc, model, base_url) from exc
        data = sorted(answer.data, key=lambda d: d.index)
        vectors = [list(map(float, d.embedding)) for d in data]
        return vectors, answer.model or model, answer.usage.prompt_tokens if answer.usage else 0


def _done_reason(finish_reason: str | None) -> str | None:
    return None if finish_reason is None else ("length" if finish_reason == "length" else "stop")


def _openai_message(message: dict[str, Any]) -> dict[str, Any]:
    """An Ollama-style message (``images`` as base64 strings) in OpenAI's form (image parts)."""
    images = message.get("images")
    out = {k: v for k, v in message.items() if k in ("role", "content", "name")}
    if images:
        parts: list[dict[str, Any]] = [{"type": "text", "text": message.get("content") or ""}]
        parts += [{"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b}"}} for b in images]
        out["content"] = parts
    return out


def _chat_kwargs(params: TextParams, model: str, messages: list[dict[str, Any]]) -> dict[str, Any]:
    kwargs: dict[str, Any] = {"model": model, "messages": messages}
    for key in _OPENAI_OPTIONS:
        if getattr(params, key) is not None:
            kwargs[key] = getattr(params, key)
    max_tokens = params.num_predict if params.num_predict is not None else params.max_tokens
    if max_tokens is not None and max_tokens > 0:
        kwargs["max_tokens"] = max_tokens
    if params.stop is not None:
        kwargs["stop"] = [params.stop] if isinstance(params.stop, str) else list(params.stop)
    extra = {k: getattr(params, k) for k in _EXTRA_OPTIONS if getattr(params, k) is not None}
    if extra:
        kwargs["extra_body"] = extra
    if params.format == "json":
        kwargs["response_format"] = {"type": "json_object"}
    elif isinstance(params.format, dict):
        kwargs["response_format"] = {
            "type": "json_schema",
            "json_schema": {"name": "answer", "schema": params.format, "strict": True},
        }
    return kwargs
