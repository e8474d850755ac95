"""The fork server's protocol between the worker and its zygote, and the worker's half of it.

All sockets are Unix socketpairs made by the worker, so nobody else can reach the zygote:

- control socket (SOCK_SEQPACKET, passed to the zygote as ``CONTROL_FD`` on its command line): the
  zygote sends :data:`READY` once it is ready; the worker then sends one message :data:`TASK` per
  task carrying :data:`TASK_FDS` fds: the task's socket and the script's stdin, stdout and stderr.
  EOF on it (the worker closed it or died) shuts the zygote down.
- task socket (SOCK_STREAM): the worker writes one JSON line ``{"script", "argv", "cwd", "env"}``;
  the zygote answers ``pid N`` once forked and ``exit N`` once the child is reaped (N negative for a
  signal, as in :mod:`subprocess`). If it cannot tell the worker the pid, it kills the child itself.

The zygote side (:mod:`gleitzeit.executors.forkserver.zygote`) imports nothing of ``gleitzeit``, so
it spells these constants again; tests/executors/test_forkserver.py checks that both agree.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Mapping

__all__ = ["EXIT", "PID", "READY", "TASK", "TASK_FDS", "encode_request", "send_task", "split_replies"]

READY = b"R"
TASK = b"T"
TASK_FDS = 4  # task socket, stdin, stdout, stderr
PID = "pid"
EXIT = "exit"
# The control socket holds ~200 requests; it is only full when the zygote hangs.
_SEND_PATIENCE = 5.0


async def send_task(control: socket.socket, fds: list[int]) -> None:
    """Hand one task's fds to the zygote; TimeoutError when its control socket stays full."""
    deadline = time.monotonic() + _SEND_PATIENCE
    while True:
        try:
            socket.send_fds(control, [TASK], fds)
            return
        except BlockingIOError:
            # Rare (a full control socket); several tasks may wait here at once, and one fd can have
            # only one writer callback per loop, so poll instead.
            if time.monotonic() > deadline:
                raise TimeoutError("the fork server's control socket stayed full") from None
            await asyncio.sleep(0.002)


def encode_request(script: str, argv: list[str], cwd: str, env: Mapping[str, str]) -> bytes:
    """The JSON line that tells the zygote what its child runs."""
    request = {"script": script, "argv": list(argv), "cwd": cwd, "env": dict(env)}
    return json.dumps(request).encode() + b"\n"


def split_replies(buffer: bytes) -> tuple[list[tuple[str, int]], bytes]:
    """The complete ``(kind, number)`` replies at the start of ``buffer``, and the incomplete rest."""
    replies = []
    while b"\n" in buffer:
        line, buffer = buffer.split(b"\n", 1)
        kind, _, value = line.decode().partition(" ")
        replies.append((kind, int(value)))
    return replies, buffer
