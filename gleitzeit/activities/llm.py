"""LLM task activities (llm/chat, llm/generate, llm/vision, llm/embed) over Ollama's API, or an
OpenAI-compatible server's (``provider: openai``, in ``openai_backend.py``).

Every call goes through the official ``ollama`` AsyncClient with an explicit timeout (its default is
none). Text generation streams internally so a long answer keeps the activity heartbeating; files and
images named in the parameters are read here, never in the workflow. Errors are translated once, in
``_translate``: bad input and unknown models fail at once, transient faults are left to Temporal's
retries. A listener in this process (``chunks.py``) gets the text pieces as they arrive. With several
Ollama hosts configured (``providers.ollama_pool`` / ``OLLAMA_HOSTS``) each call leases a host of the
worker-wide pool (``ollama_pool.py``); without one, the single-host path is what it always was.

Why one module: the four activities share one set of client plumbing (borrowing a client, streaming
with heartbeats, translating errors, leasing a host); split up, each piece would need the others.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import contextvars
import json
import ssl
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from typing import Any, TypeVar

import httpx
import ollama
import pydantic
from temporalio import activity
from temporalio.exceptions import ApplicationError

from gleitzeit.activities.chunks import chunk_publisher
from gleitzeit.activities.common import (
    check_result_size,
    find_task_file,
    heartbeating,
    non_retryable,
    retryable,
)
from gleitzeit.activities.llm_errors import translate_llm_error
from gleitzeit.activities.models import aliased
from gleitzeit.activities.ollama_pool import HostLease, OllamaPool
from gleitzeit.activities.openai_backend import OpenAIBackend
from gleitzeit.config import Settings
from gleitzeit.contracts.tasks import EmbedResult, LlmResult, TaskInput
from gleitzeit.core.ollama_pool import OllamaPoolConfig
from gleitzeit.dsl.params import (
    ChatLikeParams,
    ChatParams,
    EmbedParams,
    GenerateParams,
    LlmParams,
    TextParams,
    VisionParams,
    runtime_problem,
)

P = TypeVar("P", bound=LlmParams)
T = TypeVar("T")

__all__ = ["LlmActivities", "parse_params", "translate_llm_error"]

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


def parse_params(model: type[P], parameters: Mapping[str, Any]) -> P:
    """The task's resolved parameters, checked by the method's model (the one ``gleitzeit validate``
    uses); a bad one is a non-retryable InvalidParameters naming the key."""
    try:
        return model.model_validate(dict(parameters))
    except pydantic.ValidationError as exc:
        key, message, _ = runtime_problem(exc)
        where = f"parameter '{key}': " if key else ""
        raise non_retryable(f"{model.method}: {where}{message}", "InvalidParameters", key=key) from None


class LlmActivities:
    """The llm.* activities, bound to one Settings (LLM server address and timeouts)."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._openai = OpenAIBackend(settings)
        # Per event loop: the clients no call is using right now (see _borrow).
        self._idle: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, list[ollama.AsyncClient]] = (
            weakref.WeakKeyDictionary()
        )
        # Several Ollama hosts (ollama_pool.py): the worker-wide leases, and idle clients per host URL.
        self.pool = OllamaPool(settings)
        self._idle_at: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[str, list[ollama.AsyncClient]]
        ] = weakref.WeakKeyDictionary()

    # -- plumbing ---------------------------------------------------------------------------------

    def _model(self, params: LlmParams) -> str:
        """The model to ask: the task's, through ``settings.model_aliases``."""
        return aliased(str(params.model or ""), self._settings.model_aliases)

    async def _translate(
        self, exc: BaseException, model: str, asked: str, host: str | None = None
    ) -> ApplicationError:
        """``translate_llm_error``; for a missing model, first ask the server which models it has."""
        available: list[str] | None = None
        if isinstance(exc, ollama.ResponseError) and exc.status_code == 404:
            with contextlib.suppress(Exception):  # the message then goes without the list
                client = self._new_client(host)
                try:
                    available = [str(m.model) for m in (await asyncio.wait_for(client.list(), 10.0)).models]
                finally:
                    await client.close()
        return translate_llm_error(
            exc, model, host=host or self._settings.ollama_host, available=available, asked=asked
        )

    @contextlib.contextmanager
    def _borrow(
        self, inp: TaskInput, params: LlmParams, host: str | None = None
    ) -> Iterator[ollama.AsyncClient]:
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
        _CALL.set((_request_id(inp), self._timeout(inp, params)))
        if host is None:
            idle = self._idle.setdefault(asyncio.get_running_loop(), [])
        else:  # a host of the pool
            idle = self._idle_at.setdefault(asyncio.get_running_loop(), {}).setdefault(host, [])
        client = idle.pop() if idle else self._new_client(host)
        try:
            yield client
        finally:
            idle.append(client)

    def _timeout(self, inp: TaskInput, params: LlmParams) -> float:
        return float(params.timeout or inp.timeout or self._settings.llm_timeout)

    def _new_client(self, host: str | None = None) -> ollama.AsyncClient:
        return ollama.AsyncClient(
            host=host or self._settings.ollama_host,
            timeout=httpx.Timeout(self._settings.llm_timeout, connect=10.0),
            verify=_SSL_CONTEXT,
            # One call at a time (see _borrow): one connection is all it needs.
            limits=httpx.Limits(max_connections=4, max_keepalive_connections=1),
            event_hooks={"request": [_prime_request]},
        )

    async def _stream_text(
        self,
        inp: TaskInput,
        params: LlmParams,
        start: Callable[[ollama.AsyncClient, bool], Any],
        text_of: Callable[[Any], str],
    ) -> tuple[str, Any, HostLease | None]:
        """Run a call while heartbeating; returns (text, final chunk, pool host).

        Streamed only when something in this process listens to the text as it is written (the
        CLI's live output, a streaming compat endpoint); otherwise the answer comes in one response
        and the heartbeats only say the call is alive. A stream costs CPU on both sides for every
        token (a chunk written, woken up for and parsed), and where the LLM server shares the cores,
        that CPU is taken from its threads: 64 direct chats of 32 tokens to the embedded server got
        74-91 tokens/s streamed vs 96-97 collected, alternating (docs/performance.md, row 11).
        """
        asked, model = str(params.model or ""), self._model(params)
        pieces: list[str] = []
        publish = chunk_publisher(inp.workflow_id)

        async def consume(client: ollama.AsyncClient) -> tuple[str, Any]:
            if publish is None:
                async with heartbeating():
                    last = await start(client, False)
                return text_of(last), last
            last = None
            async with heartbeating(lambda: {"chars": sum(map(len, pieces))}):
                chunks: AsyncIterator[Any] = await start(client, True)
                async for chunk in chunks:
                    pieces.append(text_of(chunk))
                    last = chunk
                    if pieces[-1]:
                        publish(pieces[-1])
            return "".join(pieces), last

        lease: HostLease | None = None
        pool = self.pool.config_for(params.ollama_pool)
        if pool is not None:
            (text, last), lease = await self._on_pool(inp, params, pool, consume)
        else:
            try:
                with self._borrow(inp, params) as client:
                    text, last = await consume(client)
            except Exception as exc:  # translated once, here
                raise await self._translate(exc, model, asked) from exc
        if last is None:
            raise retryable("LLM server closed the stream without an answer", "LLMServerError")
        return text, last, lease

    async def _on_pool(
        self,
        inp: TaskInput,
        params: LlmParams,
        pool: OllamaPoolConfig,
        call: Callable[[ollama.AsyncClient], Awaitable[T]],
    ) -> tuple[T, HostLease]:
        """``call`` on a host of the pool, leased for it (model, tags, strategy, max_concurrent).

        Heartbeats name the host while the call waits for a slot and runs, so the web UI's pending
        activity shows where it went. A host that fails the call is marked down in the worker's pool
        and the attempt fails retryable: Temporal's next attempt leases another host.
        """
        asked, model = str(params.model or ""), self._model(params)
        tags = list(params.instance_tags or []) + (["gpu"] if params.require_gpu else [])
        where: dict[str, Any] = {"state": "waiting for a host"}
        async with heartbeating(lambda: where):
            async with self.pool.lease(pool, model, params.load_balancing_strategy, tags) as lease:
                where.update(state="calling", host=lease.id, url=lease.url)
                try:
                    with self._borrow(inp, params, lease.url) as client:
                        return await call(client), lease
                except Exception as exc:
                    raise await self._pool_failure(exc, pool, lease, model, asked) from exc

    async def _pool_failure(
        self, exc: Exception, pool: OllamaPoolConfig, lease: HostLease, model: str, asked: str
    ) -> ApplicationError:
        """A host's failure, named; the host is marked down (or as lacking the model) when another
        host may do better, so that the next attempt goes there."""
        error = await self._translate(exc, model, asked, host=lease.url)
        where = f"Ollama host '{lease.id}' ({lease.url})"
        if error.type == "ModelNotFound":
            self.pool.lacks(lease, model)
            if self.pool.others_have(pool, lease, model):
                return retryable(
                    f"{where} does not have model '{model}'; the next attempt goes to another host",
                    "LLMUnavailable",
                    host=lease.id,
                )
            return error
        if error.non_retryable or not pool.load_balancing.failover:
            return error
        self.pool.failed(lease, error.message)
        interval = pool.load_balancing.health_check_interval
        return retryable(
            f"{where} failed: {error.message.rstrip('.')}; it is skipped for {interval:g} s (until it answers "
            "again), the next attempt goes to another host",
            error.type or "LLMUnavailable",
            host=lease.id,
        )

    def _text_result(
        self,
        inp: TaskInput,
        params: TextParams,
        text: str,
        final: Any,
        images: list[str] | None,
        lease: HostLease | None = None,
    ) -> dict[str, Any]:
        fmt = params.format
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
            model=getattr(final, "model", None) or self._model(params),
            tokens_used=getattr(final, "eval_count", None) or 0,
            prompt_tokens=getattr(final, "prompt_eval_count", None) or 0,
            done_reason=getattr(final, "done_reason", None),
            total_duration=getattr(final, "total_duration", None),
            load_duration=getattr(final, "load_duration", None),
            prompt_eval_duration=getattr(final, "prompt_eval_duration", None),
            eval_duration=getattr(final, "eval_duration", None),
            parsed=parsed,
            images_analyzed=images,
            host=lease.id if lease else None,
            host_url=lease.url if lease else None,
        ).model_dump(exclude_none=True)
        check_result_size(result, self._settings.max_result_bytes, inp.task_id)
        return result

    # -- message preparation -------------------------------------------------------------------------

    def _messages(self, inp: TaskInput, params: ChatLikeParams) -> list[dict[str, Any]]:
        try:
            messages = params.chat_messages()
        except ValueError as exc:
            raise non_retryable(str(exc), "InvalidParameters") from None
        injected = self._file_texts(inp, params)
        if injected:
            target = _last_user(messages)
            target["content"] = f"{injected}\n\n{target['content']}"
        return messages

    def _file_texts(self, inp: TaskInput, params: TextParams) -> str:
        """Text of file_path/files, put before the last user message the way Gleitzeit did."""
        paths = params.file_names()
        texts = []
        for raw in paths:
            path = find_task_file(raw, inp, self._settings)
            try:
                content = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                raise non_retryable(f"cannot read file '{raw}': {exc}", "FileNotReadable") from exc
            texts.append(content if len(paths) == 1 else f"--- {path.name} ---\n{content}")
        return "\n\n".join(texts)

    def _images(self, inp: TaskInput, params: VisionParams | GenerateParams) -> tuple[list[str], list[str]]:
        """(base64 images, names) from image_path / image_paths / images."""
        encoded: list[str] = list(params.images or [])
        names: list[str] = [f"images[{i}]" for i in range(len(encoded))]
        for raw in params.image_names():
            path = find_task_file(raw, inp, self._settings, what="image")
            encoded.append(base64.b64encode(path.read_bytes()).decode("ascii"))
            names.append(raw)
        return encoded, names

    # -- activities ----------------------------------------------------------------------------------

    async def _chat(
        self, inp: TaskInput, params: TextParams, messages: list[dict[str, Any]], images: list[str] | None
    ) -> dict[str, Any]:
        """One /api/chat call (chat and vision differ only in the images they attach)."""
        if self._openai.applies(params):
            text, final = await self._openai.chat(
                params,
                self._model(params),
                messages,
                self._timeout(inp, params),
                _request_id(inp),
                chunk_publisher(inp.workflow_id),
            )
            return self._text_result(inp, params, text, final, images)
        kwargs: dict[str, Any] = {
            "model": self._model(params),
            "messages": messages,
            "format": params.format,
            "options": params.ollama_options() or None,
            "keep_alive": params.keep_alive,
            "think": params.think,
        }
        text, final, lease = await self._stream_text(
            inp,
            params,
            lambda c, stream: c.chat(stream=True, **kwargs) if stream else c.chat(stream=False, **kwargs),
            lambda chunk: chunk.message.content or "",
        )
        return self._text_result(inp, params, text, final, images, lease)

    @activity.defn(name="llm.chat")
    async def chat(self, inp: TaskInput) -> dict[str, Any]:
        params = parse_params(ChatParams, inp.parameters)
        return await self._chat(inp, params, self._messages(inp, params), None)

    @activity.defn(name="llm.vision")
    async def vision(self, inp: TaskInput) -> dict[str, Any]:
        params = parse_params(VisionParams, inp.parameters)
        images, names = self._images(inp, params)
        if not images:
            raise non_retryable("llm/vision needs image_path, image_paths or images", "InvalidParameters")
        messages = self._messages(inp, params)
        target = _last_user(messages)
        target["images"] = list(target.get("images") or []) + images
        return await self._chat(inp, params, messages, names)

    @activity.defn(name="llm.generate")
    async def generate(self, inp: TaskInput) -> dict[str, Any]:
        params = parse_params(GenerateParams, inp.parameters)
        prompt = params.prompt or ""
        injected = self._file_texts(inp, params)
        if injected:
            prompt = f"{injected}\n\n{prompt}"
        images, names = self._images(inp, params)
        if self._openai.applies(params):
            user: dict[str, Any] = {"role": "user", "content": prompt, "images": images or None}
            system = [{"role": "system", "content": params.system}] if params.system else []
            return await self._chat(inp, params, [*system, user], names or None)
        kwargs: dict[str, Any] = {
            "model": self._model(params),
            "prompt": prompt,
            "system": params.system or "",
            "format": params.format,
            "images": images or None,
            "options": params.ollama_options() or None,
            "keep_alive": params.keep_alive,
            "think": params.think,
        }
        text, final, lease = await self._stream_text(
            inp,
            params,
            lambda c, stream: (
                c.generate(stream=True, **kwargs) if stream else c.generate(stream=False, **kwargs)
            ),
            lambda chunk: chunk.response or "",
        )
        return self._text_result(inp, params, text, final, names or None, lease)

    @activity.defn(name="llm.embed")
    async def embed(self, inp: TaskInput) -> dict[str, Any]:
        params = parse_params(EmbedParams, inp.parameters)
        model = self._model(params)
        texts = params.texts()
        if self._openai.applies(params):
            vectors, used, tokens = await self._openai.embed(
                params, model, texts, self._timeout(inp, params), _request_id(inp)
            )
            return self._embed_result(inp, vectors, used, tokens, None)
        pool = self.pool.config_for(params.ollama_pool)
        lease: HostLease | None = None
        if pool is not None:
            answer, lease = await self._on_pool(
                inp, params, pool, lambda c: c.embed(model=model, input=texts, truncate=params.truncate)
            )
        else:
            try:
                with self._borrow(inp, params) as client:
                    async with heartbeating():
                        answer = await client.embed(model=model, input=texts, truncate=params.truncate)
            except Exception as exc:
                raise await self._translate(exc, model, str(params.model)) from exc
        embeddings = [list(map(float, e)) for e in answer.embeddings]
        result = self._embed_result(
            inp, embeddings, answer.model or model, answer.prompt_eval_count or 0, answer.total_duration
        )
        if lease is not None:
            result.update(host=lease.id, host_url=lease.url)
        return result

    def _embed_result(
        self, inp: TaskInput, embeddings: list[list[float]], model: str, tokens: int, duration: int | None
    ) -> dict[str, Any]:
        result = EmbedResult(
            embeddings=embeddings, model=model, prompt_tokens=tokens, total_duration=duration
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
