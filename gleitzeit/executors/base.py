"""What every script executor shares: the per-attempt workspace, capped output capture,
the timeout/heartbeat supervisor and the executor interface.

An executor only *runs* a prepared script and reports what happened (:class:`ScriptRun`); turning
that into a result or an error is :mod:`gleitzeit.executors.output`, the same for every executor.
The errors live in :mod:`gleitzeit.executors.errors` (the request imports them, and this module the
request: no circle).
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from gleitzeit.contracts.heartbeat import HEARTBEAT_INTERVAL
from gleitzeit.executors.leftovers import RAM_DISK, owner_tag
from gleitzeit.executors.request import ScriptRequest
from gleitzeit.executors.script_main import MODULE_RESULT_FILE

__all__ = [
    "CappedStream",
    "Executor",
    "Heartbeat",
    "SCRIPT_MAIN",
    "ScriptRun",
    "Workspace",
    "in_thread",
    "supervise",
]

# Captured output kept in memory per attempt: stdout keeps its first and last half MiB (the result
# usually is the last line), stderr mostly its end (where the traceback is).
STDOUT_HEAD = 512 * 1024
STDOUT_TAIL = 512 * 1024
STDERR_HEAD = 16 * 1024
STDERR_TAIL = 64 * 1024
# How much of stderr an error message and its details carry.
STDERR_TAIL_CHARS = 4000

Heartbeat = Callable[[dict[str, Any]], None]
T = TypeVar("T")

# The starter every script runs under (its globals as the original Gleitzeit gave them).
SCRIPT_MAIN = Path(__file__).with_name("script_main.py")


# ------------------------------------------------------------------------------------- output capture


class CappedStream:
    """Bytes of one output stream, bounded: the first ``head`` and the last ``tail`` bytes are kept.

    ``total`` counts everything that went through, so a huge stdout costs time, never memory.
    """

    def __init__(self, head: int, tail: int) -> None:
        self._head_cap = head
        self._tail_cap = tail
        self._head = bytearray()
        self._tail = bytearray()
        self.total = 0

    def feed(self, data: bytes) -> None:
        if not data:
            return
        self.total += len(data)
        room = self._head_cap - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if data and self._tail_cap > 0:
            self._tail += data
            if len(self._tail) > self._tail_cap:
                del self._tail[: len(self._tail) - self._tail_cap]

    @property
    def truncated(self) -> bool:
        return self.total > len(self._head) + len(self._tail)

    @property
    def dropped(self) -> int:
        return self.total - len(self._head) - len(self._tail)

    def head_text(self) -> str:
        return self._head.decode("utf-8", errors="replace")

    def tail_text(self) -> str:
        return self._tail.decode("utf-8", errors="replace")

    def text(self) -> str:
        """Everything kept; a marker stands where bytes were dropped."""
        if not self.truncated:
            return (bytes(self._head) + bytes(self._tail)).decode("utf-8", errors="replace")
        return self.head_text() + truncation_marker(self.dropped) + self.tail_text()

    def last_chars(self, n: int) -> str:
        text = self.text()
        return text[-n:] if len(text) > n else text


def truncation_marker(dropped: int) -> str:
    return f"\n[... {dropped} bytes truncated by gleitzeit ...]\n"


# ------------------------------------------------------------------------------------------ workspace


# Workspaces go to this RAM disk when it has room (and TMPDIR does not say otherwise): see
# workspace_parent. (A module name of its own: tests point it elsewhere.)
_RAM_DISK = RAM_DISK
_RAM_DISK_MIN_FREE = 256 * 1024 * 1024


def workspace_parent() -> str | None:
    """The folder new workspaces are made in: ``/dev/shm`` when it is there, writable and has at least
    256 MiB free and ``TMPDIR`` is not set; else None (the temporary folder, ``TMPDIR``).

    Why: a workspace is seven small files and folders made and removed per script. On the 2-core VM's
    ext4 disk one costs 0.25-1.5 ms depending on the moment, on a RAM disk ~0.03 ms. ``TMPDIR`` set
    means the operator chose the place (for example a folder the Docker engine shares with a worker in
    a container), and a small ``/dev/shm`` (64 MiB in a default container) is left alone. Only the
    script, its context and its result live there (bounded by the payload and result limits); the
    local executor's TMPDIR/HOME for the script stays on disk, where a script's big temporary files
    belong.
    """
    if os.environ.get("TMPDIR"):
        return None
    try:
        st = os.statvfs(_RAM_DISK)
    except OSError:
        return None
    if st.f_bavail * st.f_frsize < _RAM_DISK_MIN_FREE or not os.access(_RAM_DISK, os.W_OK | os.X_OK):
        return None
    return str(_RAM_DISK)


@dataclass
class Workspace:
    """The per-attempt directory on the worker's host.

    ``in/`` holds the script and ``context.json`` (mounted read-only into a container), ``out/``
    the result file (the only thing a sandboxed script may write on the host), ``tmp/`` is the
    local executor's TMPDIR/HOME. When the workspace is on the RAM disk (``workspace_parent``), the
    TMPDIR/HOME is a folder of its own in the temporary folder (``scratch``).
    """

    root: Path
    script_name: str
    context_bytes: bytes
    scratch: Path | None = None

    @property
    def in_dir(self) -> Path:
        return self.root / "in"

    @property
    def out_dir(self) -> Path:
        return self.root / "out"

    @property
    def tmp_dir(self) -> Path:
        return self.scratch or self.root / "tmp"

    @property
    def script_path(self) -> Path:
        return self.in_dir / self.script_name

    @property
    def context_path(self) -> Path:
        return self.in_dir / "context.json"

    @property
    def result_path(self) -> Path:
        return self.out_dir / "result.json"

    @property
    def module_result_path(self) -> Path:
        """Where the script's module-level ``result`` lands (gleitzeit.executors.script_main)."""
        return self.out_dir / MODULE_RESULT_FILE

    def add_entry_point(self) -> str:
        """Copy the script starter into in/ (for a sandbox that cannot see the package); its name."""
        shutil.copyfile(SCRIPT_MAIN, self.in_dir / SCRIPT_MAIN.name)
        os.chmod(self.in_dir / SCRIPT_MAIN.name, 0o644)
        return SCRIPT_MAIN.name

    @classmethod
    def create(cls, request: ScriptRequest) -> Workspace:
        """Write the script and its context into a fresh private directory."""
        parent = workspace_parent()
        ws = cls(
            # Named for this process, so that a worker starting after it was killed removes what it
            # left (executors/leftovers.py).
            root=Path(tempfile.mkdtemp(prefix=f"gleitzeit-script-{owner_tag()}-", dir=parent)),
            script_name=request.file.name if request.file is not None else "script.py",
            context_bytes=b"",
        )
        try:
            ws.context_bytes = json.dumps(request.context, default=str).encode()
            if parent is not None:  # the script's TMPDIR/HOME stays on disk (see workspace_parent)
                ws.scratch = Path(tempfile.mkdtemp(prefix=f"gleitzeit-tmp-{owner_tag()}-"))
            ws.in_dir.mkdir()
            ws.out_dir.mkdir()
            if ws.scratch is None:
                ws.tmp_dir.mkdir()
            if request.file is not None:
                shutil.copyfile(request.file, ws.script_path)
            else:
                ws.script_path.write_text(request.code or "", encoding="utf-8")
            ws.context_path.write_bytes(ws.context_bytes)
            # A sandbox user (nobody) must read in/ and write the one result file, nothing more:
            # out/ itself stays unwritable so a script cannot fill the host's disk with new files.
            ws.result_path.touch()
            ws.module_result_path.touch()
            os.chmod(ws.in_dir, 0o755)
            os.chmod(ws.script_path, 0o644)
            os.chmod(ws.context_path, 0o644)
            os.chmod(ws.out_dir, 0o755)
            os.chmod(ws.result_path, 0o666)
            os.chmod(ws.module_result_path, 0o666)
            return ws
        except BaseException:
            ws.remove()
            raise

    def read_result(self, limit: int) -> bytes | None:
        """The result file's bytes, or None when the script wrote nothing; at most ``limit + 1`` bytes."""
        try:
            with open(self.result_path, "rb") as f:
                data = f.read(limit + 1)
        except FileNotFoundError:
            return None
        return data if data.strip() else None

    def read_module_result(self, limit: int) -> bytes | None:
        """The module-level ``result`` the script left (JSON), or None; at most ``limit + 1`` bytes."""
        try:
            with open(self.module_result_path, "rb") as f:
                data = f.read(limit + 1)
        except FileNotFoundError:
            return None
        return data if data.strip() else None

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)


# ----------------------------------------------------------------------------- run report & executor


@dataclass
class ScriptRun:
    """What happened when an executor ran a script (raw facts, not yet a result)."""

    executor: str
    exit_code: int | None
    stdout: CappedStream
    stderr: CappedStream
    timed_out: bool = False
    oom_killed: bool = False
    duration: float = 0.0


class Executor(Protocol):
    """Runs one prepared script attempt; raises only for infrastructure trouble.

    A script's own failure (exit code, timeout, OOM) is reported in the :class:`ScriptRun`; engine
    trouble raises :class:`~gleitzeit.core.errors.DockerUnavailableError` or
    :class:`SandboxImageMissing`. Cancellation must kill the script before it propagates.
    """

    name: str

    async def run(
        self, request: ScriptRequest, workspace: Workspace, heartbeat: Heartbeat | None
    ) -> ScriptRun: ...


# -------------------------------------------------------------------------------- supervision helpers


async def supervise(
    waiter: Awaitable[T],
    *,
    timeout: float,
    heartbeat: Heartbeat | None,
    progress: Callable[[], dict[str, Any]],
) -> tuple[bool, T | None]:
    """Await ``waiter`` for at most ``timeout`` seconds, heartbeating every few seconds meanwhile.

    Returns ``(True, value)`` when it finished, ``(False, None)`` when the time ran out. The caller
    kills whatever ``waiter`` waits for; cancellation propagates to the caller the same way.
    """
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(waiter)
    deadline = loop.time() + timeout
    try:
        while True:
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False, None
            done, _ = await asyncio.wait({task}, timeout=min(HEARTBEAT_INTERVAL, remaining))
            if task in done:
                return True, task.result()
            # The first beat after one interval, not at the start (see activities.common.heartbeating).
            if heartbeat is not None:
                heartbeat(progress())
    finally:
        if not task.done():
            task.cancel()


def in_thread(
    fn: Callable[..., T], *args: Any, name: str = "gleitzeit-executor", **kwargs: Any
) -> asyncio.Future[T]:
    """Run a long blocking call (waiting for a container, draining its output) in its own daemon thread.

    The default thread pool has only a handful of workers; parking long waits there would starve the
    short calls (kill, remove) that end them. A daemon thread also never blocks interpreter exit.
    """
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(value: Any, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)

    def target() -> None:
        try:
            value, error = fn(*args, **kwargs), None
        except BaseException as exc:  # noqa: BLE001 - handed to the awaiting coroutine
            value, error = None, exc
        try:
            loop.call_soon_threadsafe(settle, value, error)
        except RuntimeError:
            pass  # the loop is closed: nobody waits any more

    threading.Thread(target=target, name=name, daemon=True).start()
    return future
