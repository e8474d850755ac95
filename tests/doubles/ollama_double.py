"""OllamaDouble: a fault-injecting test double of Ollama's REST API.

Deterministic canned answers (chat and generate echo the last user message / prompt, embeddings are
derived from a hash of the text), every request recorded for exactly-once assertions, and faults
configurable per model, path or prompt text:

- ``latency(ms)``: wait before answering;
- ``fail(times, status)``: answer ``status`` (5xx by default) the first ``times`` matching requests;
- ``drop(times, after_chunks)``: close the socket mid-response (0 = before any byte of the answer);
- ``slow_stream(delay_ms)``: pause between streamed chunks;
- ``not_found(model)``: answer 404 in Ollama's error shape, as for a model that is not pulled.

``peak_in_flight`` is the most generating requests it had at once; ``max_parallel`` makes it answer at
most that many at once and queue the rest, as Ollama does (OLLAMA_NUM_PARALLEL).

It is a small HTTP/1.1 server on asyncio (so it can cut a connection at any byte), running either in a
background thread of the test process (``with OllamaDouble() as double:`` in sync or async tests) or as a
subprocess for benchmarks::

    python -m tests.doubles.ollama_double --port 11500 --latency-ms 5

A running double is also controlled over HTTP: ``POST /_double/faults`` (a fault's fields as JSON),
``GET /_double/requests`` (``GET /_double/texts``: only each request's path and prompt text),
``POST /_double/reset``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import math
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

__all__ = ["DEFAULT_MODELS", "Fault", "OllamaDouble", "RecordedRequest"]

DEFAULT_MODELS = ("smollm2:135m", "all-minilm:latest")
EMBED_DIMS = 8
FaultKind = Literal["fail", "drop", "latency", "slow_stream", "not_found"]
_REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 500: "Internal Server Error"}
_GENERATING = ("/api/chat", "/api/generate", "/api/embed", "/api/embeddings")


@dataclass
class Fault:
    """A fault applied to matching requests; ``times=None`` means every matching request."""

    kind: FaultKind
    model: str | None = None  # None: any model
    path: str | None = None  # None: any of chat / generate / embed / embeddings
    contains: str | None = None  # substring of the prompt or last user message
    times: int | None = None
    status: int = 503
    latency_ms: float = 0.0
    after_chunks: int = 1
    delay_ms: float = 0.0
    applied: int = 0

    def matches(self, path: str, model: str | None, text: str) -> bool:
        if self.times is not None and self.applied >= self.times:
            return False
        if self.path is not None and self.path != path:
            return False
        if self.path is None and path not in _GENERATING:
            return False
        if self.model is not None and not (
            _same_model(self.model, model or "") or _same_model(model or "", self.model)
        ):
            return False
        return self.contains is None or self.contains in text


@dataclass
class RecordedRequest:
    """One request the double received (faulted or not)."""

    method: str
    path: str
    body: dict[str, Any] | None
    model: str | None
    text: str
    request_id: str | None
    time: float
    faults: list[str] = field(default_factory=list)


def _canonical(name: str) -> str:
    return name if ":" in name else name + ":latest"


def _same_model(asked: str, served: str) -> bool:
    """Whether ``asked`` names ``served``; an untagged or ``:latest`` name matches its family, as the
    embedded server resolves ``smollm2`` to ``smollm2:135m``."""
    asked, served = _canonical(asked), _canonical(served)
    if asked == served:
        return True
    family, tag = asked.split(":", 1)
    return tag == "latest" and served.split(":", 1)[0] == family


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _text_of(body: dict[str, Any] | None) -> str:
    if not body:
        return ""
    if isinstance(body.get("messages"), list):
        users = [
            m.get("content", "") for m in body["messages"] if isinstance(m, dict) and m.get("role") == "user"
        ]
        return str(users[-1]) if users else ""
    for key in ("prompt", "input"):
        value = body.get(key)
        if isinstance(value, str):
            return value
        if isinstance(value, list):
            return "\n".join(map(str, value))
    return ""


def _vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    raw = [(b - 127.5) / 127.5 for b in digest[:EMBED_DIMS]]
    norm = math.sqrt(sum(x * x for x in raw)) or 1.0
    return [x / norm for x in raw]


class _Drop(Exception):
    """Abort the connection now."""


class OllamaDouble:
    """Fault-injecting Ollama double; see the module docstring."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency_ms: float = 0.0,
        models: tuple[str, ...] = DEFAULT_MODELS,
        max_parallel: int | None = None,
    ) -> None:
        self.host = host
        self.max_parallel = max_parallel
        self._parallel: asyncio.Semaphore | None = None
        self.in_flight = 0
        self.peak_in_flight = 0
        self.port = port
        self.latency_ms = latency_ms
        self.models = tuple(_canonical(m) for m in models)
        self._faults: list[Fault] = []
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.base_events.Server | None = None
        self._thread: threading.Thread | None = None
        self._stopped: asyncio.Event | None = None
        # TCP connections accepted so far (keep-alive reuse shows as fewer connections than requests).
        self.connections = 0

    # -- configuration ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def add_fault(self, fault: Fault) -> Fault:
        with self._lock:
            self._faults.append(fault)
        return fault

    def fail(self, times: int | None = 1, status: int = 503, **match: Any) -> Fault:
        """Answer ``status`` to the first ``times`` matching requests, then behave."""
        return self.add_fault(Fault("fail", times=times, status=status, **match))

    def drop(self, times: int | None = 1, after_chunks: int = 1, **match: Any) -> Fault:
        """Close the connection after ``after_chunks`` chunks of the answer (0: before any byte)."""
        return self.add_fault(Fault("drop", times=times, after_chunks=after_chunks, **match))

    def latency(self, ms: float, times: int | None = None, **match: Any) -> Fault:
        return self.add_fault(Fault("latency", times=times, latency_ms=ms, **match))

    def slow_stream(self, delay_ms: float, times: int | None = None, **match: Any) -> Fault:
        return self.add_fault(Fault("slow_stream", times=times, delay_ms=delay_ms, **match))

    def not_found(self, model: str, times: int | None = None) -> Fault:
        return self.add_fault(Fault("not_found", model=model, times=times, status=404))

    def reset(self) -> None:
        """Forget faults and recorded requests."""
        with self._lock:
            self._faults.clear()
            self._requests.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def calls(
        self, path: str | None = None, *, model: str | None = None, contains: str | None = None
    ) -> list[RecordedRequest]:
        """Recorded requests filtered by path, model and prompt text (for exactly-once checks)."""
        return [
            r
            for r in self.requests
            if (path is None or r.path == path)
            and (model is None or _same_model(model, r.model or "") or _same_model(r.model or "", model))
            and (contains is None or contains in r.text)
        ]

    def _serves(self, model: Any) -> bool:
        return isinstance(model, str) and any(_same_model(model, m) for m in self.models)

    # -- lifecycle ----------------------------------------------------------------------------------

    async def serve(self) -> None:
        """Serve on the current event loop until ``stop`` (used by the thread and the subprocess)."""
        self._loop = asyncio.get_running_loop()
        self._stopped = asyncio.Event()
        self._parallel = asyncio.Semaphore(self.max_parallel) if self.max_parallel else None
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        async with self._server:
            await self._stopped.wait()

    def start(self) -> OllamaDouble:
        """Run in a background thread; returns once the port is open."""
        ready = threading.Event()

        def run() -> None:
            async def main() -> None:
                task = asyncio.create_task(self.serve())
                while self._server is None and not task.done():
                    await asyncio.sleep(0.005)
                ready.set()
                await task

            asyncio.run(main())

        self._thread = threading.Thread(target=run, name="ollama-double", daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("OllamaDouble did not start within 10 s")
        return self

    def stop(self) -> None:
        """Stop serving; calls in flight lose their connection (as when a host dies). Idempotent."""
        if self._loop is not None and self._stopped is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stopped.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def __enter__(self) -> OllamaDouble:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    async def __aenter__(self) -> OllamaDouble:
        return await asyncio.to_thread(self.start)

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.to_thread(self.stop)

    # -- HTTP ---------------------------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self._lock:
            self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, target, _ = lines[0].split(" ", 2)
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (ln.split(":", 1) for ln in lines[1:] if ":" in ln)
                }
                body_bytes = await reader.readexactly(int(headers.get("content-length", "0") or 0))
                keep_alive = headers.get("connection", "").lower() != "close"
                await self._respond(writer, method, target.split("?", 1)[0], headers, body_bytes)
                if not keep_alive:
                    break
        except _Drop:
            writer.transport.abort()
            return
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            pass
        except asyncio.CancelledError:
            # The double is stopping with this keep-alive connection open: end quietly.
            writer.transport.abort()
            return
        with contextlib.suppress(Exception):
            writer.close()
            await writer.wait_closed()

    @staticmethod
    async def _send(writer: asyncio.StreamWriter, data: bytes) -> None:
        writer.write(data)
        await writer.drain()

    async def _json(
        self, writer: asyncio.StreamWriter, status: int, obj: Any, drop_after: int | None
    ) -> None:
        body = json.dumps(obj, separators=(",", ":")).encode()
        head = (
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nContent-Type: application/json; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        if drop_after is not None:
            if drop_after > 0:
                await self._send(writer, head + body[: max(1, len(body) // 2)])
            raise _Drop
        await self._send(writer, head + body)

    async def _stream(
        self, writer: asyncio.StreamWriter, objs: list[dict[str, Any]], delay_s: float, drop_after: int | None
    ) -> None:
        if drop_after == 0:
            raise _Drop
        await self._send(
            writer,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n",
        )
        for i, obj in enumerate(objs):
            if drop_after is not None and i >= drop_after:
                raise _Drop
            line = json.dumps(obj, separators=(",", ":")).encode() + b"\n"
            await self._send(writer, f"{len(line):x}\r\n".encode() + line + b"\r\n")
            if delay_s and i < len(objs) - 1:
                await asyncio.sleep(delay_s)
        await self._send(writer, b"0\r\n\r\n")

    async def _respond(
        self, writer: asyncio.StreamWriter, method: str, path: str, headers: dict[str, str], raw: bytes
    ) -> None:
        if path.startswith("/_double/"):
            await self._control(writer, method, path, raw)
            return
        try:
            body = json.loads(raw) if raw.strip() else None
        except json.JSONDecodeError:
            await self._json(writer, 400, {"error": "invalid JSON in request body"}, None)
            return
        body = body if isinstance(body, dict) else None
        if path in _GENERATING:
            async with self._parallel or contextlib.nullcontext():
                self.in_flight += 1
                self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
                try:
                    await self._generate(writer, method, path, headers, body)
                finally:
                    self.in_flight -= 1
            return
        await self._generate(writer, method, path, headers, body)

    async def _generate(
        self,
        writer: asyncio.StreamWriter,
        method: str,
        path: str,
        headers: dict[str, str],
        body: dict[str, Any] | None,
    ) -> None:
        model = (body or {}).get("model") or (body or {}).get("name")
        text = _text_of(body)
        record = RecordedRequest(method, path, body, model, text, headers.get("x-request-id"), time.time())
        with self._lock:
            self._requests.append(record)
            active = [f for f in self._faults if f.matches(path, model, text)]
            for f in active:
                f.applied += 1
            record.faults = [f.kind for f in active]

        delay_s = self.latency_ms / 1000 + sum(f.latency_ms for f in active if f.kind == "latency") / 1000
        if delay_s:
            await asyncio.sleep(delay_s)
        for f in active:
            if f.kind == "fail":
                await self._json(writer, f.status, {"error": f"injected failure ({f.status})"}, None)
                return
            if f.kind == "not_found":
                await self._json(writer, 404, {"error": f"model '{model}' not found"}, None)
                return
        drop_after = next((f.after_chunks for f in active if f.kind == "drop"), None)
        chunk_delay = sum(f.delay_ms for f in active if f.kind == "slow_stream") / 1000

        if path in _GENERATING and not self._serves(model):
            await self._json(
                writer,
                404 if model else 400,
                {"error": f"model '{model}' not found" if model else "model is required"},
                drop_after,
            )
            return
        answer = self._answer(method, path, body or {}, str(model or ""), text)
        if answer is None:
            await self._json(writer, 404, {"error": f"{path} is not an Ollama API endpoint"}, drop_after)
        elif isinstance(answer, list):
            if (body or {}).get("stream", True):
                await self._stream(writer, answer, chunk_delay, drop_after)
            else:
                await self._json(writer, 200, _collapse(answer), drop_after)
        else:
            await self._json(writer, 200, answer, drop_after)

    def _answer(self, method: str, path: str, body: dict[str, Any], model: str, text: str) -> Any:
        if path == "/api/version":
            return {"version": "0.11.0"}
        if path == "/api/tags":
            return {
                "models": [
                    {"name": m, "model": m, "size": 1, "digest": "0" * 64, "details": {}} for m in self.models
                ]
            }
        if path == "/api/ps":
            return {"models": []}
        if path == "/api/show":
            if not self._serves(model):
                return None
            return {
                "details": {"family": "double"},
                "capabilities": ["completion"],
                "template": "",
                "model_info": {},
            }
        if path == "/api/embed":
            inputs = body.get("input", [])
            texts = [inputs] if isinstance(inputs, str) else list(inputs)
            return {
                "model": model,
                "embeddings": [_vector(t) for t in texts],
                "prompt_eval_count": len(texts),
            }
        if path == "/api/embeddings":
            return {"embedding": _vector(str(body.get("prompt", "")))}
        if path in ("/api/chat", "/api/generate"):
            return self._pieces(path, body, model, text)
        if path == "/":
            return "Ollama is running"
        return None

    @staticmethod
    def _pieces(path: str, body: dict[str, Any], model: str, text: str) -> list[dict[str, Any]]:
        answer = json.dumps({"echo": text}) if body.get("format") else f"echo: {text}"
        words = [w + " " for w in answer.split(" ")]
        words[-1] = words[-1].rstrip(" ")
        limit = (body.get("options") or {}).get("num_predict")
        reason = "stop"
        if isinstance(limit, int) and 0 < limit < len(words):
            words, reason = words[:limit], "length"
        chat = path == "/api/chat"

        def piece(content: str, done: bool) -> dict[str, Any]:
            obj: dict[str, Any] = {"model": model, "created_at": _now()}
            if chat:
                obj["message"] = {"role": "assistant", "content": content}
            else:
                obj["response"] = content
            obj["done"] = done
            return obj

        out = [piece(w, False) for w in words]
        final = piece("", True)
        final.update(
            done_reason=reason,
            total_duration=1_000_000 * len(words),
            load_duration=0,
            prompt_eval_count=len(text.split()),
            prompt_eval_duration=1000,
            eval_count=len(words),
            eval_duration=1_000_000 * len(words),
        )
        return [*out, final]

    async def _control(self, writer: asyncio.StreamWriter, method: str, path: str, raw: bytes) -> None:
        if path == "/_double/faults" and method == "POST":
            fault = self.add_fault(Fault(**json.loads(raw)))
            await self._json(writer, 200, asdict(fault), None)
        elif path == "/_double/requests":
            await self._json(writer, 200, [asdict(r) for r in self.requests], None)
        elif path == "/_double/texts":  # [path, text] of each request: a 100,000-file batch's, cheaply
            await self._json(writer, 200, [[r.path, r.text] for r in self.requests], None)
        elif path == "/_double/reset" and method == "POST":
            self.reset()
            await self._json(writer, 200, {"reset": True}, None)
        else:
            await self._json(writer, 404, {"error": f"unknown control endpoint {path}"}, None)


def _collapse(pieces: list[dict[str, Any]]) -> dict[str, Any]:
    """The non-streaming answer: the final object carrying the whole text."""
    final = dict(pieces[-1])
    if "message" in final:
        text = "".join(p["message"]["content"] for p in pieces[:-1])
        final["message"] = {"role": "assistant", "content": text}
    else:
        final["response"] = "".join(p["response"] for p in pieces[:-1])
    return final


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.doubles.ollama_double", description="OllamaDouble")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=11500)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument(
        "--fail-times", type=int, default=0, help="answer 503 to the first N generating requests"
    )
    parser.add_argument("--stream-delay-ms", type=float, default=0.0, help="pause between streamed chunks")
    parser.add_argument(
        "--max-parallel", type=int, default=None, help="answer at most N at once, queue the rest (as Ollama)"
    )
    args = parser.parse_args(argv)
    double = OllamaDouble(
        host=args.host, port=args.port, latency_ms=args.latency_ms, max_parallel=args.max_parallel
    )
    if args.fail_times:
        double.fail(times=args.fail_times)
    if args.stream_delay_ms:
        double.slow_stream(args.stream_delay_ms)

    async def run() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.create_task(double.serve())
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, double.stop)
        while double._server is None and not task.done():
            await asyncio.sleep(0.005)
        print(f"OllamaDouble listening on {double.url}", flush=True)
        await task

    asyncio.run(run())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
