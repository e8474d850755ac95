"""llama.cpp (through the ``xllamacpp`` wheel) behind an asyncio interface, with parallel slots.

``xllamacpp.Server`` runs llama.cpp's server context in-process: each call to its chat/completion handler
blocks the calling thread until the answer is finished, delivering streamed chunks through a callback,
while llama.cpp schedules all concurrent calls onto ``parallel`` slots (continuous batching). So every
request runs in a worker thread of a private pool and its chunks are handed to the event loop through a
queue: tokens reach the HTTP client as they are produced, and more requests than slots simply wait in
llama.cpp's queue instead of being refused.

The chat model loads at start; the embedding model loads on first use (as Ollama loads models), after a
one-time conversion of the bundled all-MiniLM checkpoint (see ``minilm.py``).
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from collections.abc import AsyncGenerator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from gleitzeit.llm_server.minilm import ensure_minilm_gguf
from gleitzeit.llm_server.models import CHAT_MODEL, EMBED_MODEL, ServedModel, find_smollm2_gguf
from gleitzeit.llm_server.options import DEFAULT_CTX_PER_SLOT, DEFAULT_PARALLEL, DEFAULT_THREADS

__all__ = ["BackendConfig", "BackendError", "LlamaBackend", "LoadedModel"]

log = logging.getLogger(__name__)

EMBED_PARALLEL = 2
EMBED_CTX_PER_SLOT = 512  # all-MiniLM's position table
# Worker threads only wait on llama.cpp; many of them cost little and let requests queue in llama.cpp.
MAX_WAITING_REQUESTS = 64


class BackendError(Exception):
    """llama.cpp refused or failed a request; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 500, kind: str = "server_error") -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind


@dataclass
class BackendConfig:
    """How to run llama.cpp: threads, parallel slots and the context of each slot."""

    threads: int = DEFAULT_THREADS
    parallel: int = DEFAULT_PARALLEL
    ctx_per_slot: int = DEFAULT_CTX_PER_SLOT
    cache_dir: Path = field(default_factory=lambda: Path.home() / ".cache" / "gleitzeit" / "models")
    verbosity: int = 1  # llama.cpp log level on stderr: 0 errors .. 3 info
    load_embed_at_start: bool = False


@dataclass
class LoadedModel:
    model: ServedModel
    loaded_at: float
    context_length: int
    server: Any  # xllamacpp.Server
    base_url: str


def _error_from(chunk: dict[str, Any]) -> BackendError:
    err = chunk.get("error")
    if isinstance(err, dict):
        status = int(err.get("code") or 500)
        kind = str(err.get("type") or "server_error")
        message = str(err.get("message") or err)
    else:
        status, kind, message = 500, "server_error", str(err)
    if kind == "exceed_context_size_error":
        status = 400
    return BackendError(message, status=status if 400 <= status < 600 else 500, kind=kind)


class LlamaBackend:
    """The served models, loaded in llama.cpp, callable from asyncio."""

    def __init__(self, config: BackendConfig | None = None) -> None:
        self.config = config or BackendConfig()
        self._pool = ThreadPoolExecutor(max_workers=MAX_WAITING_REQUESTS, thread_name_prefix="llama")
        self._loaded: dict[str, LoadedModel] = {}
        self._embed_lock = threading.Lock()
        self._http = httpx.AsyncClient(timeout=httpx.Timeout(30.0))

    # -- loading -------------------------------------------------------------------------------------

    def _server(self, path: Path, *, embedding: bool, parallel: int, ctx_per_slot: int) -> Any:
        import xllamacpp  # the optional "llm" extra; imported late so the rest works without it

        params = xllamacpp.CommonParams()
        params.model.path = str(path)
        params.n_parallel = parallel
        params.n_ctx = parallel * ctx_per_slot
        params.cpuparams.n_threads = self.config.threads
        params.cpuparams_batch.n_threads = self.config.threads
        params.verbosity = self.config.verbosity
        params.port = 0  # llama.cpp's own HTTP listener: private, used only to count tokens
        params.warmup = False
        if embedding:
            params.embedding = True
            params.n_batch = params.n_ubatch = ctx_per_slot
            params.embd_normalize = -1  # raw vectors; /api/embed normalises like Ollama does
        return xllamacpp.Server(params)

    def start(self) -> None:
        """Load the chat model (blocking, about half a second for SmolLM2-135M)."""
        path = find_smollm2_gguf()
        if path is None:
            raise BackendError(f"the chat model is not installed: {CHAT_MODEL.install_hint}", status=500)
        CHAT_MODEL.path = path
        server = self._server(
            path, embedding=False, parallel=self.config.parallel, ctx_per_slot=self.config.ctx_per_slot
        )
        self._loaded[CHAT_MODEL.name] = LoadedModel(
            CHAT_MODEL, time.time(), self.config.ctx_per_slot, server, server.listening_address
        )
        try:
            # Converted once per machine (under a second); then /api/tags can describe the real file.
            EMBED_MODEL.path = ensure_minilm_gguf(self.config.cache_dir)
        except FileNotFoundError as exc:
            log.warning("embeddings unavailable: %s", exc)
        if self.config.load_embed_at_start:
            self._load_embed()

    def _load_embed(self) -> LoadedModel:
        with self._embed_lock:
            loaded = self._loaded.get(EMBED_MODEL.name)
            if loaded is not None:
                return loaded
            try:
                path = ensure_minilm_gguf(self.config.cache_dir)
            except FileNotFoundError as exc:
                raise BackendError(str(exc), status=500) from exc
            EMBED_MODEL.path = path
            EMBED_MODEL.__dict__.pop("metadata", None)
            server = self._server(
                path, embedding=True, parallel=EMBED_PARALLEL, ctx_per_slot=EMBED_CTX_PER_SLOT
            )
            loaded = LoadedModel(
                EMBED_MODEL, time.time(), EMBED_CTX_PER_SLOT, server, server.listening_address
            )
            self._loaded[EMBED_MODEL.name] = loaded
            return loaded

    def loaded(self) -> list[LoadedModel]:
        return list(self._loaded.values())

    def is_loaded(self, model: ServedModel) -> bool:
        return model.name in self._loaded

    async def ensure_loaded(self, model: ServedModel) -> float:
        """Load ``model`` if needed; returns the seconds spent loading (Ollama's load_duration)."""
        if model.name in self._loaded:
            return 0.0
        if model is not EMBED_MODEL:
            raise BackendError(f"model {model.name} is not loaded", status=500)
        t0 = time.perf_counter()
        await asyncio.get_running_loop().run_in_executor(self._pool, self._load_embed)
        return time.perf_counter() - t0

    def close(self) -> None:
        self._loaded.clear()  # dropping the Server objects stops llama.cpp's loops
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def aclose(self) -> None:
        await self._http.aclose()
        self.close()

    # -- generation -----------------------------------------------------------------------------------

    def _chat_server(self) -> LoadedModel:
        loaded = self._loaded.get(CHAT_MODEL.name)
        if loaded is None:
            raise BackendError("the chat model is not loaded", status=503)
        return loaded

    async def stream(self, body: dict[str, Any], *, chat: bool = True) -> AsyncGenerator[dict[str, Any]]:
        """OpenAI-style chunks of a chat (or raw completion) as llama.cpp produces them.

        Closing the iterator early (the HTTP client went away) stops generation at the next token.
        """
        server = self._chat_server().server
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[dict[str, Any] | BaseException | None] = asyncio.Queue()
        stop = threading.Event()
        request = dict(body, stream=True, stream_options={"include_usage": True})

        def on_chunk(chunk: dict[str, Any]) -> bool:
            loop.call_soon_threadsafe(queue.put_nowait, chunk)
            return stop.is_set()  # True tells llama.cpp to stop this request

        def run() -> None:
            try:
                if chat:
                    server.handle_chat_completions(request, on_chunk)
                else:
                    server.handle_completions(request, on_chunk)
            except BaseException as exc:  # noqa: BLE001 - handed to the consumer
                loop.call_soon_threadsafe(queue.put_nowait, exc)
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        future = loop.run_in_executor(self._pool, run)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                if isinstance(item, BaseException):
                    raise BackendError(f"llama.cpp failed: {item}") from item
                if "error" in item:
                    raise _error_from(item)
                yield item
        finally:
            stop.set()
            if not future.done():
                # Let the worker notice the stop flag; never block the event loop on it.
                future.add_done_callback(lambda f: f.exception())

    async def count_chat_tokens(self, messages: list[dict[str, Any]]) -> int:
        """Prompt tokens of ``messages`` after the chat template (llama.cpp's own count)."""
        base = self._chat_server().base_url
        resp = await self._http.post(f"{base}/v1/chat/completions/input_tokens", json={"messages": messages})
        if resp.status_code != 200:
            raise BackendError(f"could not count prompt tokens: {resp.text[:200]}", status=resp.status_code)
        return int(resp.json()["input_tokens"])

    async def count_text_tokens(self, text: str) -> int:
        base = self._chat_server().base_url
        resp = await self._http.post(f"{base}/tokenize", json={"content": text})
        if resp.status_code != 200:
            raise BackendError(f"could not count prompt tokens: {resp.text[:200]}", status=resp.status_code)
        return len(resp.json()["tokens"])

    # -- embeddings -----------------------------------------------------------------------------------

    async def embed(self, texts: list[str], *, truncate: bool = True) -> tuple[list[list[float]], int]:
        """Raw (unnormalised) embeddings of ``texts`` and the number of tokens read."""
        await self.ensure_loaded(EMBED_MODEL)
        loaded = self._loaded[EMBED_MODEL.name]
        if truncate:
            # Ollama truncates inputs to the context; llama.cpp would refuse them instead.
            texts = [await self._truncate(t, loaded) for t in texts]
        loop = asyncio.get_running_loop()
        result = await loop.run_in_executor(
            self._pool, loaded.server.handle_embeddings, {"input": texts, "model": EMBED_MODEL.name}
        )
        if "error" in result:
            raise _error_from(result)
        data = sorted(result["data"], key=lambda d: d["index"])
        vectors = [list(map(float, d["embedding"])) for d in data]
        tokens = int(result.get("usage", {}).get("prompt_tokens", 0))
        return vectors, tokens

    async def _truncate(self, text: str, loaded: LoadedModel) -> str:
        limit = loaded.context_length - 2  # [CLS] and [SEP]
        if len(text.encode()) <= limit:  # a WordPiece token covers at least one byte
            return text
        resp = await self._http.post(
            f"{loaded.base_url}/tokenize", json={"content": text, "with_pieces": True}
        )
        if resp.status_code != 200:
            return text
        pieces = resp.json()["tokens"]
        if len(pieces) <= limit:
            return text
        kept = pieces[:limit]
        if kept and isinstance(kept[0], dict):
            return "".join(str(p.get("piece", "")) for p in kept).replace("\u2581", " ").strip()
        return text[: limit * 2]


def normalise(vector: list[float]) -> list[float]:
    norm = math.sqrt(sum(v * v for v in vector))
    return [v / norm for v in vector] if norm > 0 else vector
