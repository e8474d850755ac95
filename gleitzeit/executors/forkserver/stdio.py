"""A forked script's stdin, stdout and stderr: plain pipe fds, written and read without asyncio transports.

The zygote forks the script, so the worker holds raw pipe ends, not an asyncio subprocess; each end
belongs to exactly one helper here, which closes it when done.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable

from gleitzeit.executors.base import CappedStream

__all__ = ["feed_fd", "pump_fd", "resolve"]


async def feed_fd(fd: int, data: bytes) -> None:
    """Write ``data`` to the pipe ``fd`` and close it; a script that never reads stdin is fine."""
    loop = asyncio.get_running_loop()
    view = memoryview(data)
    try:
        os.set_blocking(fd, False)
        while view:
            try:
                view = view[os.write(fd, view) :]
            except BlockingIOError:
                await _ready(loop.add_writer, loop.remove_writer, fd)
    except (BrokenPipeError, ConnectionResetError):
        pass
    finally:
        os.close(fd)


async def pump_fd(fd: int, sink: CappedStream) -> None:
    """Read the pipe ``fd`` into ``sink`` until EOF, then close it."""
    loop = asyncio.get_running_loop()
    try:
        os.set_blocking(fd, False)
        while True:
            try:
                chunk = os.read(fd, 65536)
            except BlockingIOError:
                await _ready(loop.add_reader, loop.remove_reader, fd)
                continue
            if not chunk:
                return
            sink.feed(chunk)
    finally:
        os.close(fd)


def resolve(future: asyncio.Future[None] | None) -> None:
    """Resolve ``future`` unless it is done already (an fd callback may fire more than once)."""
    if future is not None and not future.done():
        future.set_result(None)


async def _ready(
    add: Callable[..., object], remove: Callable[[int], object], fd: int
) -> None:  # one waiter per fd: each pipe end belongs to exactly one helper
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    add(fd, resolve, future)
    try:
        await future
    finally:
        remove(fd)
