"""Request body size limit: anything larger than ``max_bytes`` is refused with 413 before it is read.

``MAX_PIPELINE_BYTES`` is how much pipeline (a file named by ``path``, ``yaml`` text, a ``spec``'s
values) one request may make the server parse: half the body limit, so parsing one (pure-Python
PyYAML, ~1 s per MB here, in a worker thread) stays a fraction of a second; the smaller of it and
``Settings.max_pipeline_bytes`` applies. Over it: 413 with the file and line where the limit stops.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DEFAULT_MAX_BODY_BYTES", "MAX_PIPELINE_BYTES", "BodySizeLimit"]

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
MAX_PIPELINE_BYTES = DEFAULT_MAX_BODY_BYTES // 2


class BodySizeLimit:
    """Pure ASGI middleware: checks Content-Length up front; a chunked body is counted before the app runs."""

    def __init__(
        self, app: ASGIApp, max_bytes: int = DEFAULT_MAX_BODY_BYTES, exempt: tuple[str, ...] = ()
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        # Paths that stream their bodies under their own limits (POST /v1/files): buffering them here
        # would hold an upload in memory.
        self.exempt = exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("path") in self.exempt:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None:
            try:
                too_large = int(length) > self.max_bytes
            except ValueError:
                too_large = False
            if too_large:
                await self._refuse(send, scope.get("path", ""))
                return
        if length is not None:
            await self.app(scope, receive, send)
            return
        # No length given (chunked): read the body up to the limit first, then replay it. The
        # framework turns errors raised while it reads into a 400, so the check cannot live there.
        messages: list[Message] = []
        seen = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                break
            seen += len(message.get("body", b""))
            if seen > self.max_bytes:
                await self._refuse(send, scope.get("path", ""))
                return
            if not message.get("more_body", False):
                break
        replay = iter(messages)

        async def replaying_receive() -> Message:
            try:
                return next(replay)
            except StopIteration:
                return await receive()

        await self.app(scope, replaying_receive, send)

    async def _refuse(self, send: Send, path: str) -> None:
        message = (
            f"request body larger than {self.max_bytes} bytes; send a file path instead of the content, "
            "or split the request"
        )
        body: dict[str, Any] = {"error": {"type": "PayloadTooLargeError", "message": message}}
        if path.startswith("/api/"):  # Ollama's shape (gleitzeit.api.compat)
            body = {"error": message}
        elif path.startswith("/v1/"):  # OpenAI clients read error.code too
            body["error"]["code"] = "request_too_large"
        data = json.dumps(body).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})
