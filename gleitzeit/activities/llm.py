"""LLM task activities (llm/chat, llm/generate, llm/vision, llm/embed) over Ollama's API.

Every call goes through the official ``ollama`` AsyncClient with an explicit timeout (its default is
none). Text generation streams internally so a long answer keeps the activity heartbeating; files and
images named in the parameters are read here, never in the workflow. Errors are translated once, in
``_translate``: bad input and unknown models fail at once, transient faults are left to Temporal's
retries.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import json
import ssl
import weakref
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from typing import Any

import httpx
import ollama
from temporalio import activity
from temporalio.exceptions import ApplicationError

from gleitzeit.activities.common import (
    check_result_size,
    heartbeating,
    heartbeats_covered,
    non_retryable,
    resolve_path,
    retryable,
)
from gleitzeit.config import Settings
from gleitzeit.contracts.tasks import EmbedResult, LlmResult, TaskInput

__all__ = ["OLLAMA_OPTION_KEYS", "LlmActivities", "build_options", "translate_llm_error"]

# Task parameters passed through as Ollama `options` (same names as Ollama's).
OLLAMA_OPTION_KEYS = (
    "temperature",
    "top_p",
    "top_k",
    "seed",
    "stop",
    "num_ctx",
    "num_predict",
    "repeat_penalty",
    "repeat_last_n",
    "presence_penalty",
    "frequency_penalty",
    "min_p",
    "typical_p",
    "tfs_z",
    "mirostat",
    "mirostat_eta",
    "mirostat_tau",
    "num_keep",
    "num_batch",
    "num_thread",
)

# Building an SSL context costs milliseconds; build it once.
_SSL_CONTEXT = ssl.create_default_context()
# (request id, timeout in seconds) of the LLM call the current activity is making.
_CALL: contextvars.ContextVar[tuple[str, float] | None] = contextvars.ContextVar(
    "gleitzeit_llm_call", default=None
)


async def _prime_request(request: httpx.Request) -> None:
    """httpx request hook: this call's X-Request-Id (for the server's request log) and its timeout."""
    call = _CALL.get()
    if call is not None:
        request_id, timeout = call
        request.headers["X-Request-Id"] = request_id
        request.extensions["timeout"] = httpx.Timeout(timeout, connect=10.0).as_dict()


def build_options(params: Mapping[str, Any]) -> dict[str, Any]:
    options = {k: params[k] for k in OLLAMA_OPTION_KEYS if params.get(k) is not None}
    if params.get("max_tokens") is not None and "num_predict" not in options:
        options["num_predict"] = params["max_tokens"]
    return options


def translate_llm_error(exc: BaseException, model: str) -> ApplicationError:
    """Map an ollama/httpx failure to a retryable or non-retryable ApplicationError."""
    if isinstance(exc, ApplicationError):
        return exc
    if isinstance(exc, ollama.ResponseError):
        status = exc.status_code
        text = exc.error
        if status == 404:
            return non_retryable(
                f"model '{model}' not found on the LLM server: {text} "
                "(pull it, or use one that `gleitzeit llm models` lists)",
                "ModelNotFound",
                model=model,
                status=status,
            )
        if status in (408, 429) or status >= 500 or status == -1:
            return retryable(f"LLM server error {status}: {text}", "LLMServerError", status=status)
        return non_retryable(
            f"LLM server rejected the request ({status}): {text}", "InvalidParameters", status=status
        )
    if isinstance(exc, httpx.TimeoutException):
        return retryable(f"LLM request timed out: {exc!r}", "LLMTimeout")
    if isinstance(exc, ConnectionError | httpx.TransportError):
        return retryable(f"LLM server unreachable or connection dropped: {exc}", "LLMUnavailable")
    return retryable(f"LLM call failed: {type(exc).__name__}: {exc}", "LLMError")


class LlmActivities:
    """The llm.* activities, bound to one Settings (LLM server address and timeouts)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        # Per event loop: the clients no call is using right now (see _borrow).
        self._idle: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[ollama.AsyncClient]] = (
            weakref.WeakKeyDictionary()
        )

    # -- plumbing ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _borrow(self, inp: TaskInput) -> Iterator[ollama.AsyncClient]:
        """A client of this event loop that no other call is using, primed with this call's request id
        and timeout; it goes back to the loop's idle clients afterwards.

        Clients are kept, not made per call (a client costs a TLS context and a new TCP connection).
        One client per call in flight, rather than one shared client, because httpx's connection pool
        scans all its connections on every request and every release (an expiry check per idle
        connection, with a socket poll and getpeername each, and a count of idle connections per
        connection): at 20 calls in flight that bookkeeping was ~27 % of the worker's main thread in a batch.
        A client used by one call at a time keeps one connection, and the scan is short. Per-call
        settings travel in a context variable that the request hook reads; every activity (and
        every lane of a batch chunk) runs in its own asyncio task, so they never mix.
        """
        timeout = float(inp.parameters.get("timeout") or inp.timeout or self._settings.llm_timeout)
        _CALL.set((_request_id(inp), timeout))
        idle = self._idle.setdefault(asyncio.get_running_loop(), [])
        client = idle.pop() if idle else self._new_client()
        try:
            yield client
        finally:
            idle.append(client)

    def _new_client(self) -> ollama.AsyncClient:
        return ollama.AsyncClient(
            host=self._settings.ollama_host,
            timeout=httpx.Timeout(self._settings.llm_timeout, connect=10.0),
            verify=_SSL_CONTEXT,
            # One call at a time (see _borrow): one connection is all it needs.
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=1),
            event_hooks={"request": [_prime_request]},
        )

    async def _stream_text(
        self,
        inp: TaskInput,
        start: Callable[[ollama.AsyncClient, bool], Any],
        text_of: Callable[[Any], str],
    ) -> tuple[str, Any]:
        """Run a call, collecting text while heartbeating; returns (text, final chunk).

        Streamed in a regular activity, so that heartbeats carry progress while a long answer is
        written. Where nothing needs our heartbeats (a local activity, which the server does not
        know, or a file of a batch chunk, which beats for all its files) the answer comes in one
        response: parsing an NDJSON stream chunk by chunk cost ~0.5-1 ms of each call.
        """
        model = str(inp.parameters.get("model", ""))
        pieces: list[str] = []
        last: Any = None
        stream = not heartbeats_covered()
        try:
            with self._borrow(inp) as client:
                if not stream:
                    last = await start(client, False)
                    return text_of(last), last
                async with heartbeating(lambda: {"chars": sum(map(len, pieces))}):
                    chunks: AsyncIterator[Any] = await start(client, True)
                    async for chunk in chunks:
                        pieces.append(text_of(chunk))
                        last = chunk
        except Exception as exc:  # translated once, here
            raise translate_llm_error(exc, model) from exc
        if last is None:
            raise retryable("LLM server closed the stream without an answer", "LLMServerError")
        return "".join(pieces), last

    def _text_result(self, inp: TaskInput, text: str, final: Any, images: list[str] | None) -> dict[str, Any]:
        fmt = inp.parameters.get("format")
        parsed: Any = None
        if fmt:
            try:
                parsed = json.loads(text)
            except json.JSONDecodeError as exc:
                # Sampling may produce a truncated document (num_predict); another attempt may not.
                raise retryable(
                    f"model answered with invalid JSON although format was requested: {exc}; "
                    f"answer began: {text[:200]!r}",
                    "LLMBadJSON",
                ) from exc
        result = LlmResult(
            response=text,
            model=getattr(final, "model", None) or str(inp.parameters.get("model")),
            tokens_used=getattr(final, "eval_count", None) or 0,
            prompt_tokens=getattr(final, "prompt_eval_count", None) or 0,
            done_reason=getattr(final, "done_reason", None),
            total_duration=getattr(final, "total_duration", None),
            load_duration=getattr(final, "load_duration", None),
            prompt_eval_duration=getattr(final, "prompt_eval_duration", None),
            eval_duration=getattr(final, "eval_duration", None),
            parsed=parsed,
            images_analyzed=images,
        ).model_dump(exclude_none=True)
        check_result_size(result, self._settings.max_result_bytes, inp.task_id)
        return result

    # -- message preparation -------------------------------------------------------------------------

    def _messages(self, inp: TaskInput) -> list[dict[str, Any]]:
        p = inp.parameters
        raw = p.get("messages")
        if raw is None and p.get("prompt") is not None:
            raw = [{"role": "user", "content": str(p["prompt"])}]
        if not isinstance(raw, list) or not raw:
            raise non_retryable("'messages' must be a non-empty list of {role, content}", "InvalidParameters")
        messages: list[dict[str, Any]] = []
        for i, m in enumerate(raw):
            if not isinstance(m, dict) or "role" not in m:
                raise non_retryable(
                    f"messages[{i}] must be an object with 'role' and 'content'", "InvalidParameters"
                )
            msg = dict(m)
            content = msg.get("content", "")
            msg["content"] = content if isinstance(content, str) else json.dumps(content)
            messages.append(msg)
        if p.get("system") and not any(m["role"] == "system" for m in messages):
            messages.insert(0, {"role": "system", "content": str(p["system"])})
        injected = self._file_texts(inp)
        if injected:
            target = _last_user(messages)
            target["content"] = f"{injected}\n\n{target['content']}"
        return messages

    def _file_texts(self, inp: TaskInput) -> str:
        """Text of file_path/files, put before the last user message the way Gleitzeit did."""
        p = inp.parameters
        paths: list[str] = []
        if p.get("file_path"):
            paths.append(str(p["file_path"]))
        paths.extend(str(f) for f in p.get("files") or [])
        texts = []
        for raw in paths:
            path = resolve_path(raw, inp.base_dir)
            try:
                content = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise non_retryable(f"cannot read file '{raw}': {exc}", "FileNotReadable") from exc
            texts.append(content if len(paths) == 1 else f"--- {path.name} ---\n{content}")
        return "\n\n".join(texts)

    def _images(self, inp: TaskInput) -> tuple[list[str], list[str]]:
        """(base64 images, names) from image_path / image_paths / images."""
        p = inp.parameters
        encoded: list[str] = [str(i) for i in p.get("images") or []]
        names: list[str] = [f"images[{i}]" for i in range(len(encoded))]
        raw_paths = ([p["image_path"]] if p.get("image_path") else []) + list(p.get("image_paths") or [])
        for raw in raw_paths:
            path = resolve_path(str(raw), inp.base_dir, what="image")
            encoded.append(base64.b64encode(path.read_bytes()).decode("ascii"))
            names.append(str(raw))
        return encoded, names

    # -- activities ----------------------------------------------------------------------------------

    async def _chat(
        self, inp: TaskInput, messages: list[dict[str, Any]], images: list[str] | None
    ) -> dict[str, Any]:
        """One /api/chat call (chat and vision differ only in the images they attach)."""
        p = inp.parameters
        kwargs: dict[str, Any] = {
            "model": str(p.get("model")),
            "messages": messages,
            "format": p.get("format"),
            "options": build_options(p) or None,
            "keep_alive": p.get("keep_alive"),
            "think": p.get("think"),
        }
        text, final = await self._stream_text(
            inp,
            lambda c, stream: c.chat(stream=True, **kwargs) if stream else c.chat(stream=False, **kwargs),
            lambda chunk: chunk.message.content or "",
        )
        return self._text_result(inp, text, final, images)

    @activity.defn(name="llm.chat")
    async def chat(self, inp: TaskInput) -> dict[str, Any]:
        return await self._chat(inp, self._messages(inp), None)

    @activity.defn(name="llm.vision")
    async def vision(self, inp: TaskInput) -> dict[str, Any]:
        images, names = self._images(inp)
        if not images:
            raise non_retryable("llm/vision needs image_path, image_paths or images", "InvalidParameters")
        messages = self._messages(inp)
        target = _last_user(messages)
        target["images"] = list(target.get("images") or []) + images
        return await self._chat(inp, messages, names)

    @activity.defn(name="llm.generate")
    async def generate(self, inp: TaskInput) -> dict[str, Any]:
        p = inp.parameters
        prompt = str(p.get("prompt", ""))
        injected = self._file_texts(inp)
        if injected:
            prompt = f"{injected}\n\n{prompt}"
        images, names = self._images(inp)
        kwargs: dict[str, Any] = {
            "model": str(p.get("model")),
            "prompt": prompt,
            "system": str(p.get("system") or ""),
            "format": p.get("format"),
            "images": images or None,
            "options": build_options(p) or None,
            "keep_alive": p.get("keep_alive"),
            "think": p.get("think"),
        }
        text, final = await self._stream_text(
            inp,
            lambda c, stream: (
                c.generate(stream=True, **kwargs) if stream else c.generate(stream=False, **kwargs)
            ),
            lambda chunk: chunk.response or "",
        )
        return self._text_result(inp, text, final, names or None)

    @activity.defn(name="llm.embed")
    async def embed(self, inp: TaskInput) -> dict[str, Any]:
        p = inp.parameters
        model = str(p.get("model"))
        source = next((p[k] for k in ("input", "text", "prompt") if p.get(k) is not None), None)
        if source is None:
            raise non_retryable(
                "llm/embed needs 'input' (a string or a list of strings)", "InvalidParameters"
            )
        texts = [str(source)] if isinstance(source, str) else [str(s) for s in source]
        try:
            with self._borrow(inp) as client:
                async with heartbeating():
                    answer = await client.embed(
                        model=model,
                        input=texts,
                        truncate=p.get("truncate"),
                        options=build_options(p) or None,
                    )
        except Exception as exc:
            raise translate_llm_error(exc, model) from exc
        embeddings = [list(map(float, e)) for e in answer.embeddings]
        result = EmbedResult(
            embeddings=embeddings,
            model=answer.model or model,
            prompt_tokens=answer.prompt_eval_count or 0,
            total_duration=answer.total_duration,
        ).model_dump(exclude_none=True)
        # `${t.embedding}` is the first vector, convenient for a single input.
        result["embedding"] = embeddings[0] if embeddings else []
        check_result_size(result, self._settings.max_result_bytes, inp.task_id)
        return result

    def all(self) -> list[Callable[..., Any]]:
        return [self.chat, self.generate, self.vision, self.embed]


def _last_user(messages: list[dict[str, Any]]) -> dict[str, Any]:
    for m in reversed(messages):
        if m.get("role") == "user":
            return m
    messages.append({"role": "user", "content": ""})
    return messages[-1]


def _request_id(inp: TaskInput) -> str:
    """Identifies the call in the LLM server's request log: workflow / task / attempt."""
    attempt = activity.info().attempt if activity.in_activity() else 0
    return f"{inp.workflow_id}/{inp.task_id}/{attempt}"
