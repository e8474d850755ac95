"""Receive ``POST /v1/files``: a multipart body parsed as it streams in, each file written as it arrives.

FastAPI's ``UploadFile`` parameters would first spool the whole body (to memory, then a temporary
file) before the route runs, so a huge upload would land whole before any limit applied. Here
python-multipart's push parser is fed straight from the request stream into an ``UploadBatch``, which
counts and hashes every chunk and stops at the first byte over a limit. A refused request is drained
(up to ``DRAIN_LIMIT``) before the error answer goes out, so the client reads a clean 413/422 instead
of a reset connection; past that the connection is simply closed.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from python_multipart.exceptions import FormParserError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from gleitzeit.client.uploads import UploadBatch
from gleitzeit.core.errors import PayloadTooLargeError, ValidationError
from gleitzeit.core.models import UploadedFile

__all__ = ["DRAIN_LIMIT", "MAX_FILES", "MULTIPART_SLACK", "receive_files"]

# The most parts (files) one request may carry.
MAX_FILES = 1000
# Room for the multipart boundaries and part headers around the files' bytes in Content-Length.
MULTIPART_SLACK = 1024 * 1024
# After a refusal, read and discard at most this much more of the body (see the module docstring).
DRAIN_LIMIT = 16 * 1024 * 1024
_HOW = "send the files as multipart/form-data parts named 'files' (curl -F files=@report.pdf ...)"


class _Receiver:
    """python-multipart callbacks (synchronous): they only queue what happened, in order."""

    def __init__(self) -> None:
        self.events: list[tuple[str, Any]] = []
        self.parts = 0
        self._header_name = b""
        self._header_value = b""
        self._disposition = b""

    def on_part_begin(self) -> None:
        self._disposition = b""

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def on_header_end(self) -> None:
        if self._header_name.lower() == b"content-disposition":
            self._disposition = self._header_value
        self._header_name = self._header_value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        self.parts += 1
        raw = options.get(b"filename")
        field = options.get(b"name", b"").decode("utf-8", "replace")
        name = raw.decode("utf-8", "replace") if raw is not None else None
        self.events.append(("open", (name, field, self.parts)))

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.events.append(("data", bytes(data[start:end])))

    def callbacks(self) -> dict[str, Any]:
        return {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
        }


def _apply(batch: UploadBatch, events: list[tuple[str, Any]]) -> None:
    """Run the queued events on the batch (in a worker thread: it writes to disk)."""
    for kind, value in events:
        if kind == "data":
            batch.write(value)
            continue
        name, field, index = value
        where = f"part {index} ('{field}')"
        if name is None:
            raise ValidationError(f"{where} is not a file (no filename=); {_HOW}")
        if index > MAX_FILES:
            raise ValidationError(f"more than {MAX_FILES} files in one request; send them in several")
        batch.open(name, where)


def _boundary(request: Request) -> bytes:
    mime, params = parse_options_header(request.headers.get("content-type", ""))
    if mime != b"multipart/form-data":
        raise ValidationError(f"POST /v1/files takes multipart/form-data, not '{mime.decode()}'; {_HOW}")
    boundary = params.get(b"boundary")
    if not boundary:
        raise ValidationError(f"the multipart body has no boundary in its Content-Type; {_HOW}")
    return bytes(boundary)


async def receive_files(
    request: Request, root: Path, *, max_file_bytes: int, max_request_bytes: int
) -> list[UploadedFile]:
    """Store every file of the request under ``root``; all or none."""
    boundary = _boundary(request)
    declared = request.headers.get("content-length")
    batch = UploadBatch(root, max_file_bytes=max_file_bytes, max_request_bytes=max_request_bytes)
    receiver = _Receiver()
    stream = request.stream()
    try:
        if declared and declared.isdigit() and int(declared) > max_request_bytes + MULTIPART_SLACK:
            raise PayloadTooLargeError(
                f"the upload is {int(declared):,} bytes, over the {max_request_bytes:,} this server "
                "accepts per request (GLEITZEIT_UPLOAD_MAX_REQUEST_BYTES); send the files in several "
                "requests"
            )
        parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
        async for chunk in stream:
            parser.write(chunk)
            events, receiver.events = receiver.events, []
            if events:
                await asyncio.to_thread(_apply, batch, events)
        parser.finalize()
        await asyncio.to_thread(_apply, batch, receiver.events)
        if receiver.parts == 0:
            raise ValidationError(f"the request carries no files; {_HOW}")
        return await asyncio.to_thread(batch.commit)
    except ClientDisconnect:
        await asyncio.to_thread(batch.abort)
        raise
    except FormParserError as exc:
        await asyncio.to_thread(batch.abort)
        await _drain(stream)
        raise ValidationError(f"the multipart body is malformed ({exc}); {_HOW}") from None
    except Exception:
        await asyncio.to_thread(batch.abort)
        await _drain(stream)
        raise
    except BaseException:  # cancelled: clean up without awaiting
        batch.abort()
        raise


async def _drain(stream: Any) -> None:
    seen = 0
    try:
        async for chunk in stream:
            seen += len(chunk)
            if seen > DRAIN_LIMIT:
                return
    except Exception:  # the client gave up: nothing to drain
        return
