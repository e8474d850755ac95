"""One durable LLM call of the compatible endpoints: a one-task workflow run, its options and its errors.

Every chat, completion and embedding that arrives in OpenAI's or Ollama's shape runs as the same
one-task workflow the client's ``chat()`` runs (a local activity, started eagerly when this process
has the worker): retried by Temporal on LLM failure, recorded in the web UI under a summary that names
the endpoint and the model. Per call, ``X-Gleitzeit-Retry`` sets the attempts, ``X-Gleitzeit-Timeout``
the time of one attempt, and ``Idempotency-Key`` the workflow id: the same key again attaches to the
same run (running or completed) and answers with its result instead of calling the LLM again.

Streaming runs the same workflow; the LLM activity hands each piece of text to this process
(``gleitzeit.activities.chunks``) while the run records the whole answer. See docs/compatible_api.md
for what a stream guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

from fastapi import Request

from gleitzeit.activities.chunks import listening
from gleitzeit.api.deps import backend_of
from gleitzeit.client.native import NativeBackend
from gleitzeit.client.native_run import NativeRun
from gleitzeit.client.starter import new_workflow_id, start_pipeline, web_url
from gleitzeit.contracts.spec import RetrySpec, TaskSpec, WorkflowSpec
from gleitzeit.core.errors import (
    GleitzeitError,
    NotFoundError,
    ServiceUnavailableError,
    TaskExecutionError,
    ValidationError,
    WorkflowCancelledError,
)
from gleitzeit.core.errors import TimeoutError as GleitzeitTimeout
from gleitzeit.core.units import parse_duration
from gleitzeit.dsl.params import check_parameters
from gleitzeit.workflows.dag import LOCAL_ACTIVITY_KEY

__all__ = [
    "CALL_TASK_ID",
    "WORKFLOW_ID_HEADER",
    "CallOptions",
    "CompatError",
    "Shape",
    "call_options",
    "run_call",
    "stream_call",
]

CALL_TASK_ID = "call"
WORKFLOW_ID_HEADER = "X-Gleitzeit-Workflow-Id"
MAX_ATTEMPTS_LIMIT = 100
Shape = Literal["openai", "ollama"]


class CompatError(Exception):
    """An error answered in the caller's API shape: OpenAI's ``{"error": {message, type, code}}`` or
    Ollama's ``{"error": "..."}``."""

    def __init__(
        self, status: int, message: str, *, kind: str = "invalid_request_error", code: str | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code


@dataclass(frozen=True)
class CallOptions:
    """The Gleitzeit features a caller selects per request with headers."""

    workflow_id: str | None = None  # from Idempotency-Key
    max_attempts: int | None = None  # X-Gleitzeit-Retry
    timeout: float | None = None  # X-Gleitzeit-Timeout: seconds (or a duration) per attempt


def call_options(request: Request) -> CallOptions:
    headers = request.headers
    key = headers.get("idempotency-key")
    workflow_id = None
    if key is not None:
        if not key.strip() or len(key) > 255:
            raise CompatError(400, "Idempotency-Key must be 1 to 255 characters", code="invalid_header")
        # Hashed: any characters the caller uses make a valid, fixed-length workflow id.
        workflow_id = "idem-" + hashlib.sha256(key.encode()).hexdigest()[:32]
    attempts = None
    raw = headers.get("x-gleitzeit-retry")
    if raw is not None:
        try:
            attempts = int(raw)
        except ValueError:
            attempts = 0
        if not 1 <= attempts <= MAX_ATTEMPTS_LIMIT:
            raise CompatError(
                400,
                f"X-Gleitzeit-Retry must be a whole number of attempts from 1 to {MAX_ATTEMPTS_LIMIT}, "
                f"not {raw!r}",
                code="invalid_header",
            )
    timeout = None
    raw = headers.get("x-gleitzeit-timeout")
    if raw is not None:
        try:
            timeout = parse_duration(raw)
        except ValueError:
            raise CompatError(
                400,
                f"X-Gleitzeit-Timeout must be seconds above 0 or a duration like 90s or 5m, not {raw!r}",
                code="invalid_header",
            ) from None
    return CallOptions(workflow_id, attempts, timeout)


def _spec(endpoint: str, method: str, params: dict[str, Any], opts: CallOptions) -> WorkflowSpec:
    issues = check_parameters(method, params)
    if issues:
        first = issues[0]
        key = ".".join(map(str, first.path))
        raise CompatError(400, f"{key + ': ' if key else ''}{first.message}", code=first.code)
    return WorkflowSpec(
        name=f"{endpoint} {params.get('model')}",
        tasks=[
            TaskSpec(
                id=CALL_TASK_ID,
                method=method,
                parameters=params,
                # As the client's chat(): one task, so a local activity costs no durability.
                metadata={LOCAL_ACTIVITY_KEY: True},
                retry=RetrySpec(max_attempts=opts.max_attempts) if opts.max_attempts else None,
                timeout=opts.timeout,
            )
        ],
    )


def _translate(exc: GleitzeitError) -> CompatError:
    """A failed run as the HTTP error a caller of these APIs expects."""
    if isinstance(exc, TaskExecutionError):
        cause = exc.cause or str(exc)
        if exc.cause_type == "ModelNotFound":
            return CompatError(404, cause, code="model_not_found")
        if exc.cause_type == "InvalidParameters":
            return CompatError(400, cause, code="invalid_parameters")
        attempts = f" after {exc.attempts} attempts" if exc.attempts else ""
        return CompatError(
            502, f"the LLM call failed{attempts} (run {exc.workflow_id}): {cause}", kind="server_error"
        )
    if isinstance(exc, ValidationError):
        return CompatError(400, str(exc))
    if isinstance(exc, NotFoundError):
        return CompatError(404, str(exc), code="not_found")
    if isinstance(exc, GleitzeitTimeout):
        return CompatError(504, str(exc), kind="timeout")
    if isinstance(exc, ServiceUnavailableError):
        return CompatError(503, str(exc), kind="server_error")
    if isinstance(exc, WorkflowCancelledError):
        return CompatError(409, str(exc), kind="cancelled")
    return CompatError(500, str(exc), kind="server_error")


async def _start(
    backend: NativeBackend, endpoint: str, method: str, params: dict[str, Any], opts: CallOptions
) -> NativeRun:
    spec = _spec(endpoint, method, params, opts)
    await backend.ensure_llm()
    workflow_id = opts.workflow_id or new_workflow_id(spec.name)
    handle = await start_pipeline(
        backend.client,
        spec,
        {},
        backend.settings,
        workflow_id=workflow_id,
        request_eager_start=backend.eager,
        attach_existing=opts.workflow_id is not None,
        file_roots=backend.run_roots,
    )
    return NativeRun(
        handle, "workflow", web_url(backend.settings, handle.id), data_dir=backend.settings.data_dir
    )


async def run_call(
    request: Request, endpoint: str, method: str, params: dict[str, Any], opts: CallOptions
) -> tuple[dict[str, Any], str]:
    """Run one call durably: (the task's result, the workflow id)."""
    backend = backend_of(request)
    try:
        run = await _start(backend, endpoint, method, params, opts)
        execution = await run.result()
    except GleitzeitError as exc:
        raise _translate(exc) from None
    return dict(execution.results[CALL_TASK_ID].result), run.id


@dataclass
class Streamed:
    """What a stream yields: a piece of text, then one final item with the run's whole result."""

    text: str = ""
    result: dict[str, Any] | None = None
    error: CompatError | None = None


async def stream_call(
    request: Request, endpoint: str, method: str, params: dict[str, Any], opts: CallOptions
) -> tuple[AsyncIterator[Streamed], str]:
    """Start the run and return (its pieces as they are written, its workflow id).

    Errors before the run starts raise CompatError (the caller answers with a status); later ones
    arrive as a final ``Streamed(error=...)``. Closing the iterator early (the client went away)
    cancels the run, which stops the LLM call.
    """
    backend = backend_of(request)
    queue: asyncio.Queue[tuple[str, int]] = asyncio.Queue()
    loop = asyncio.get_running_loop()
    # The listener must exist before the run starts; its id is known first only without a key.
    workflow_id = opts.workflow_id or new_workflow_id(f"{endpoint} {params.get('model')}")
    opts = CallOptions(workflow_id, opts.max_attempts, opts.timeout)

    def listener(text: str, attempt: int) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, (text, attempt))

    scope = listening(workflow_id, listener)
    scope.__enter__()
    try:
        run = await _start(backend, endpoint, method, params, opts)
    except GleitzeitError as exc:
        scope.__exit__(None, None, None)
        raise _translate(exc) from None
    except BaseException:
        scope.__exit__(None, None, None)
        raise

    async def pieces() -> AsyncIterator[Streamed]:
        result = asyncio.ensure_future(run.result())
        sent = 0
        first_attempt: int | None = None
        detached = False

        def take(item: tuple[str, int]) -> Streamed:
            nonlocal sent, first_attempt
            text, attempt = item
            first_attempt = attempt if first_attempt is None else first_attempt
            if attempt != first_attempt:
                # A retry started the answer over after part of it was sent: the client cannot take
                # those tokens back. The run goes on and records the whole new answer.
                return Streamed(
                    error=CompatError(
                        502,
                        f"the LLM call failed after {sent} characters were streamed and was retried; "
                        f"the complete answer is in run {run.id} (or send the request again)",
                        kind="server_error",
                        code="retried_mid_stream",
                    )
                )
            sent += len(text)
            return Streamed(text)

        try:
            while not result.done() or not queue.empty():
                if queue.empty():
                    getter = asyncio.ensure_future(queue.get())
                    await asyncio.wait({getter, result}, return_when=asyncio.FIRST_COMPLETED)
                    if not getter.done():
                        getter.cancel()
                        continue
                    piece = take(getter.result())
                else:
                    piece = take(queue.get_nowait())
                yield piece
                if piece.error is not None:
                    detached = True  # the run goes on without this response
                    return
            try:
                execution = await result
            except GleitzeitError as exc:
                yield Streamed(error=_translate(exc))
                return
            answer = dict(execution.results[CALL_TASK_ID].result)
            if sent == 0 and answer.get("response"):
                # The run was done by a worker in another process (or attached to by an idempotency
                # key): the pieces never came here, the whole answer goes as one.
                yield Streamed(str(answer["response"]))
            yield Streamed(result=answer)
        finally:
            scope.__exit__(None, None, None)
            running = not result.done()
            result.cancel()
            if running and not detached:
                # The client went away: end the run (and with it the LLM call) instead of leaving it.
                with contextlib.suppress(Exception):
                    await asyncio.shield(run.handle.cancel())

    return pieces(), run.id
