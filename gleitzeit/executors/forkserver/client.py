"""The worker side of the fork server: start, restart and stop zygotes, fork scripts through them.

:class:`ForkServer` is the fork server of one Python interpreter; it starts its zygote process on the
first spawn (the worker's handle on it is a :class:`ZygoteProcess`) and a new one after it died.
:class:`ForkedScript` is the worker's handle on one forked script. The package docstring
(:mod:`gleitzeit.executors.forkserver`) says why and when the local executor forks.

Why one module of ~400 lines: the two handles share the zygote's lifecycle (a script's handle must see
its zygote die); the wire format is ``protocol``, the stdio plumbing ``stdio``.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from gleitzeit.core.errors import ServiceUnavailableError
from gleitzeit.executors.forkserver.protocol import EXIT, PID, READY, encode_request, send_task, split_replies
from gleitzeit.executors.forkserver.stdio import resolve

__all__ = [
    "ForkServer",
    "ForkServerLost",
    "ForkServerUnavailable",
    "ForkedScript",
    "ZygoteProcess",
    "fork_server",
    "fork_server_refusal",
    "shutdown_fork_servers",
]

log = logging.getLogger("gleitzeit.executors")

ZYGOTE = Path(__file__).with_name("zygote.py")
# A zygote that could not start is not tried again for this long (tasks use exec meanwhile).
_RESTART_BACKOFF = 30.0
# How long a killed script's exit may take to be reported, and a closed zygote to exit.
_REAP_GRACE = 5.0
_STOP_GRACE = 2.0
# Variables the interpreter, the dynamic loader or libc read once at process start (or that a
# pre-imported module caches): a forked child would silently ignore the task's value.
_STARTUP_PREFIXES = ("PYTHON", "LC_", "LD_", "MALLOC_", "OPENSSL_")
_STARTUP_NAMES = frozenset({"LANG", "TZ", "GLIBC_TUNABLES", "HOME"})


class ForkServerLost(ServiceUnavailableError):
    """The local executor's fork server died while the script ran; its processes were killed.

    Not the script's fault: the activity fails retryably and the next attempt starts a new fork server.
    """


class ForkServerUnavailable(ServiceUnavailableError):
    """The fork server cannot run this script; nothing ran, the local executor uses ``exec`` instead."""


def fork_server_refusal(task_env: Mapping[str, str], base_env: Mapping[str, str]) -> str | None:
    """Why a script with the task's ``env`` must start as a fresh interpreter, or None."""
    if not sys.platform.startswith("linux"):
        return f"the fork server needs Linux (this is {sys.platform})"
    startup = sorted(
        name
        for name, value in task_env.items()
        if (name in _STARTUP_NAMES or name.startswith(_STARTUP_PREFIXES)) and base_env.get(name) != value
    )
    if startup:
        return f"the task's env sets {', '.join(startup)}, read only when an interpreter starts"
    return None


# ------------------------------------------------------------------------------------- the server


class ZygoteProcess:
    """The worker's handle on one started zygote process and its control socket."""

    def __init__(self, proc: subprocess.Popen[bytes], control: socket.socket) -> None:
        self.proc = proc
        self.control = control
        self._ready = False
        self._closed = False

    @property
    def ready(self) -> bool:
        """Whether it ever said it was ready (it forks nothing before): decides retry vs fallback."""
        if not self._ready and not self._closed:
            with contextlib.suppress(OSError):
                self._ready = self.control.recv(16) == READY
        return self._ready

    def alive(self) -> bool:
        return not self._closed and self.proc.poll() is None

    def close(self, timeout: float) -> None:
        _ = self.ready  # settle the flag while the socket can still be read
        self._closed = True
        self.control.close()  # EOF: the zygote kills what still runs and exits
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class ForkServer:
    """The fork server of one Python interpreter; starts (and restarts) its zygote when needed."""

    def __init__(self, python: str, env: Mapping[str, str]) -> None:
        self.python = python
        self._env = dict(env)
        self._lock = threading.Lock()
        self._zygote: ZygoteProcess | None = None
        self._failed_at = -_RESTART_BACKOFF

    @property
    def pid(self) -> int | None:
        """The zygote's pid while one runs."""
        zygote = self._zygote
        return zygote.proc.pid if zygote is not None and zygote.alive() else None

    def _running(self) -> ZygoteProcess:
        with self._lock:
            if self._zygote is not None and self._zygote.alive():
                return self._zygote
            if self._zygote is not None:
                log.debug(
                    "fork server pid %d for %s ended; starting a new one", self._zygote.proc.pid, self.python
                )
                self._zygote.close(0)
                self._zygote = None
            if time.monotonic() - self._failed_at < _RESTART_BACKOFF:
                raise ForkServerUnavailable("the fork server failed to start moments ago")
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)

            def start() -> subprocess.Popen[bytes]:
                return subprocess.Popen(
                    [self.python, str(ZYGOTE), str(theirs.fileno()), str(os.getpid())],
                    env=self._env,
                    cwd="/",
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    pass_fds=(theirs.fileno(),),
                    start_new_session=True,  # a Ctrl-C meant for the worker's terminal is not for it
                )

            try:
                proc = _in_starter_thread(start)
            except (OSError, RuntimeError) as exc:  # RuntimeError: the interpreter is shutting down
                ours.close()
                self._failed_at = time.monotonic()
                raise ForkServerUnavailable(f"the fork server cannot start: {exc}") from exc
            finally:
                theirs.close()
            ours.setblocking(False)
            self._zygote = ZygoteProcess(proc, ours)
            log.debug("started fork server pid %d for %s", proc.pid, self.python)
            return self._zygote

    def _failed_to_start(self, zygote: ZygoteProcess) -> None:
        with self._lock:
            self._failed_at = time.monotonic()
            if self._zygote is zygote:
                zygote.close(0)
                self._zygote = None

    async def spawn(self, script: str, argv: list[str], cwd: str, env: Mapping[str, str]) -> ForkedScript:
        """Fork a child that runs ``script`` like ``python script *argv`` in ``cwd`` with exactly ``env``.

        Raises :class:`ForkServerUnavailable` when the zygote cannot take the request (nothing runs).
        """
        zygote = self._running()
        loop = asyncio.get_running_loop()
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        stdin_r, stdin_w = os.pipe()
        stdout_r, stdout_w = os.pipe()
        stderr_r, stderr_w = os.pipe()
        child = ForkedScript(self, zygote, ours, stdin_w, stdout_r, stderr_r)
        try:
            try:
                await send_task(zygote.control, [theirs.fileno(), stdin_r, stdout_w, stderr_w])
            except (OSError, TimeoutError) as exc:
                zygote.proc.poll()
                raise ForkServerUnavailable(f"the fork server does not take requests ({exc!r})") from exc
            finally:
                # The zygote has its own copies now (or nobody needs them).
                theirs.close()
                for fd in (stdin_r, stdout_w, stderr_w):
                    os.close(fd)
            ours.setblocking(False)
            try:
                await loop.sock_sendall(ours, encode_request(script, argv, cwd, env))
            except OSError as exc:  # it died before reading the whole request: it forked nothing
                raise ForkServerUnavailable(f"the fork server died ({exc!r})") from exc
            child.listen()
            return child
        except BaseException:
            child.close()
            raise


class ForkedScript:
    """The worker's handle on one forked script: its pipes, pid, exit status and kill."""

    def __init__(
        self,
        server: ForkServer,
        zygote: ZygoteProcess,
        sock: socket.socket,
        stdin: int,
        stdout: int,
        stderr: int,
    ) -> None:
        self._server = server
        self._zygote = zygote
        self._sock = sock
        # Our ends of the pipes; each helper (stdio.feed_fd, pump_fd) takes one over and closes it.
        self.stdin_fd: int | None = stdin
        self.stdout_fd: int | None = stdout
        self.stderr_fd: int | None = stderr
        self.pid: int | None = None
        self.returncode: int | None = None
        self._error: BaseException | None = None
        self._stopping = False
        self._buffer = b""
        self._reader: asyncio.Task[None] | None = None
        self._got_pid: asyncio.Future[None] | None = None
        self._got_exit: asyncio.Future[None] | None = None

    def listen(self) -> None:
        loop = asyncio.get_running_loop()
        self._got_pid, self._got_exit = loop.create_future(), loop.create_future()
        self._reader = asyncio.create_task(self._read_messages())

    async def started(self) -> int:
        """The child's pid once forked (its process group id too)."""
        assert self._got_pid is not None
        await asyncio.shield(self._got_pid)
        if self.pid is None:
            raise self._error or ForkServerLost("the fork server stopped answering")
        return self.pid

    async def wait(self) -> int:
        """The exit status (negative: killed by that signal), as soon as the zygote reaped the child."""
        assert self._got_exit is not None
        await asyncio.shield(self._got_exit)
        if self.returncode is None:
            raise self._error or ForkServerLost("the fork server stopped answering")
        return self.returncode

    async def stop(self) -> None:
        """Kill the script's process group (always, also after a normal exit) and reap the script."""
        self._stopping = True
        if self.pid is None:
            # Not forked yet, or its pid is on the way. After shutdown the zygote cannot tell us a pid
            # and kills such a child itself; a pid already sent is still read below.
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            await self._settle()
        if self.pid is None:
            return
        _kill_group(self.pid)
        if self.returncode is None:
            # The zygote has not reported (so not reaped) this pid yet: it cannot have been reused.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGKILL)
            await self._settle()

    async def _settle(self) -> None:
        if self._reader is not None and not self._reader.done():
            await asyncio.wait({self._reader}, timeout=_REAP_GRACE)

    def close(self) -> None:
        """Release the socket and whatever pipe ends no helper took over."""
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
        self._sock.close()
        for name in ("stdin_fd", "stdout_fd", "stderr_fd"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                with contextlib.suppress(OSError):
                    os.close(fd)

    def take(self, name: str) -> int:
        """Hand one pipe end (``stdin_fd``, ``stdout_fd``, ``stderr_fd``) over to its helper."""
        fd = getattr(self, name)
        assert fd is not None, name
        setattr(self, name, None)
        return int(fd)

    async def _read_messages(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.returncode is None:
                try:
                    data = await loop.sock_recv(self._sock, 256)
                except ConnectionResetError:  # it died with our request unread: the same as EOF
                    data = b""
                if not data:
                    raise self._lost()
                replies, self._buffer = split_replies(self._buffer + data)
                for kind, value in replies:
                    if kind == PID:
                        self.pid = value
                        resolve(self._got_pid)
                    elif kind == EXIT:
                        self.returncode = value
            resolve(self._got_exit)
        except Exception as exc:  # noqa: BLE001 - handed to started()/wait()
            self._error = exc
        finally:
            resolve(self._got_pid)
            resolve(self._got_exit)

    def _lost(self) -> Exception:
        if self._stopping:
            return ForkServerLost("stopped waiting for the script")
        if self.pid is None and not self._zygote.ready:
            self._server._failed_to_start(self._zygote)
            return ForkServerUnavailable("the fork server exited before it was ready")
        zygote_pid = self._zygote.proc.pid
        if self.pid is None:
            return ForkServerLost(
                f"the local executor's fork server (pid {zygote_pid}) died before starting the script; "
                "the task is retried with a new one"
            )
        return ForkServerLost(
            f"the local executor's fork server (pid {zygote_pid}) died while the script (pid "
            f"{self.pid}) ran; its processes were killed and the task is retried with a new one"
        )


def _in_starter_thread(start: Callable[[], subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """Run ``start`` (a Popen) in a thread that lives as long as this process.

    PR_SET_PDEATHSIG fires when the *thread* that forked the zygote ends, not the process: a zygote
    forked by a short-lived thread (``asyncio.run`` in a helper thread) would die with that thread.
    """
    global _starter
    with _servers_lock:
        if _starter is None:
            _starter = ThreadPoolExecutor(1, thread_name_prefix="gleitzeit-forkserver")
        starter = _starter
    return starter.submit(start).result()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


# ------------------------------------------------------------------------------------- the registry

_servers: dict[tuple[str, tuple[tuple[str, str], ...]], ForkServer] = {}
_servers_lock = threading.Lock()
_starter: ThreadPoolExecutor | None = None


def fork_server(python: str, env: Mapping[str, str]) -> ForkServer:
    """This worker process's fork server for ``python`` (started on its first spawn)."""
    key = (python, tuple(sorted(env.items())))
    with _servers_lock:
        server = _servers.get(key)
        if server is None:
            server = _servers[key] = ForkServer(python, env)
        return server


def shutdown_fork_servers(timeout: float = _STOP_GRACE) -> None:
    """Stop every zygote of this process (they end scripts still running); new ones start on demand.

    For tests and the worker's shutdown; at interpreter exit it runs by itself.
    """
    with _servers_lock:
        servers = list(_servers.values())
        _servers.clear()
    for server in servers:
        with server._lock:
            zygote, server._zygote = server._zygote, None
        if zygote is not None:
            zygote.close(timeout)


def _forget_after_fork() -> None:
    # A forked copy of the worker (multiprocessing) must not talk to, or wait for, our zygotes; a
    # lock another thread held at the fork would stay locked forever in the copy.
    global _servers_lock, _starter
    _servers_lock = threading.Lock()
    _starter = None
    for server in _servers.values():
        if server._zygote is not None:
            server._zygote.control.close()
    _servers.clear()


atexit.register(shutdown_fork_servers)
os.register_at_fork(after_in_child=_forget_after_fork)
