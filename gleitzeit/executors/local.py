"""The local executor: the script runs as a subprocess of the worker, without a sandbox.

For machines without Docker. The script starts in its own process group (a new session) and the
whole group is killed on timeout, cancellation, and after the script exits (so a background child
cannot outlive its task). Its environment is minimal: nothing of the worker's environment (API
tokens, passwords) reaches the script, only what the task passes in ``env``. There are no memory,
CPU or network limits: use the Docker executor for scripts you did not write yourself.

On Linux a script normally starts as a fork of a pre-started interpreter (the fork server,
:mod:`gleitzeit.executors.forkserver`), ~25 ms sooner than a fresh ``python script.py``, with the
same environment, process group and kills; ``exec`` remains the reference path and the fallback
(``Settings.local_forkserver`` off, i.e. ``GLEITZEIT_LOCAL_FORKSERVER=false``; start-up variables in
the task's env; no fork server).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import sys
import time
from pathlib import Path

from gleitzeit.config import get_settings
from gleitzeit.executors.base import (
    SCRIPT_MAIN,
    STDERR_HEAD,
    STDERR_TAIL,
    STDOUT_HEAD,
    STDOUT_TAIL,
    CappedStream,
    Heartbeat,
    ScriptRun,
    Workspace,
    supervise,
)
from gleitzeit.executors.forkserver import (
    ForkServerUnavailable,
    feed_fd,
    fork_server,
    fork_server_refusal,
    pump_fd,
)
from gleitzeit.executors.request import ScriptRequest

__all__ = ["LocalExecutor", "base_environment", "script_environment"]

log = logging.getLogger("gleitzeit.executors")

# After the script exits, how long its output pipes may take to drain (a child that escaped the
# process group could hold them open forever).
_DRAIN_GRACE = 2.0
_SAFE_PATH = "/usr/local/bin:/usr/bin:/bin"
# HOME and TMPDIR of the fork server itself: it has no workspace, and must not read the worker's.
_NO_HOME = "/nonexistent"
# Fallback reasons already logged (each once per process: a reason per task would be noise).
_logged_reasons: set[str] = set()


def base_environment(home: str) -> dict[str, str]:
    """What every local script's environment starts from (and all the fork server ever sees)."""
    python_dir = str(Path(sys.executable).parent)
    return {
        "PATH": f"{python_dir}:{_SAFE_PATH}",
        "HOME": home,
        "TMPDIR": home,
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
    }


def script_environment(request: ScriptRequest, workspace: Workspace) -> dict[str, str]:
    """The complete environment of a local script: a minimal base, the contract's variables, ``env``."""
    env = base_environment(str(workspace.tmp_dir))
    env.update(request.env)
    env.update(contract_variables(request, str(workspace.context_path), str(workspace.result_path)))
    return env


def contract_variables(request: ScriptRequest, context_file: str, result_file: str) -> dict[str, str]:
    """The variables every script gets, whichever executor runs it (the outputs directory has the same
    path on the host and in the sandbox)."""
    variables = {
        "GLEITZEIT_CONTEXT_FILE": context_file,
        "GLEITZEIT_RESULT_FILE": result_file,
        "GLEITZEIT_TASK_ID": request.task_id,
        "GLEITZEIT_WORKFLOW_ID": request.workflow_id,
        "GLEITZEIT_ATTEMPT": str(request.attempt),
    }
    if request.outputs_dir is not None:
        variables["GLEITZEIT_OUTPUTS_DIR"] = str(request.outputs_dir)
    return variables


def working_directory(request: ScriptRequest, workspace: Workspace) -> str:
    """Where a local script starts: its outputs directory when it has one (relative writes land there,
    as in the sandbox), else its scratch folder."""
    return str(request.outputs_dir) if request.outputs_dir is not None else str(workspace.tmp_dir)


class LocalExecutor:
    """Runs scripts with the worker's own Python interpreter (``sys.executable``).

    ``fork_server``: start scripts through the fork server when it can run them exactly like a fresh
    interpreter would; None takes ``local_forkserver`` of :func:`~gleitzeit.config.get_settings`
    (``GLEITZEIT_LOCAL_FORKSERVER``, default on).
    """

    name = "local"

    def __init__(self, python: str | None = None, *, fork_server: bool | None = None) -> None:
        self.python = python or sys.executable
        self.fork_server = get_settings().local_forkserver if fork_server is None else fork_server

    async def run(
        self, request: ScriptRequest, workspace: Workspace, heartbeat: Heartbeat | None
    ) -> ScriptRun:
        if self.fork_server:
            reason = fork_server_refusal(request.env, base_environment(_NO_HOME))
            if reason is None:
                try:
                    return await self._run_forked(request, workspace, heartbeat)
                except ForkServerUnavailable as exc:  # nothing ran: start it the classic way
                    reason = str(exc)
            if reason not in _logged_reasons:
                _logged_reasons.add(reason)
                log.debug("local executor: starting scripts with exec, not the fork server: %s", reason)
        return await self._run_exec(request, workspace, heartbeat)

    async def _run_exec(
        self, request: ScriptRequest, workspace: Workspace, heartbeat: Heartbeat | None
    ) -> ScriptRun:
        stdout = CappedStream(STDOUT_HEAD, STDOUT_TAIL)
        stderr = CappedStream(STDERR_HEAD, STDERR_TAIL)
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            self.python,
            str(SCRIPT_MAIN),
            _script_path(request, workspace),
            *request.argv,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=working_directory(request, workspace),
            env=script_environment(request, workspace),
            start_new_session=True,
        )
        assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
        helpers = [
            asyncio.create_task(_feed(proc.stdin, workspace.context_bytes)),
            asyncio.create_task(_pump(proc.stdout, stdout)),
            asyncio.create_task(_pump(proc.stderr, stderr)),
        ]

        def progress() -> dict[str, object]:
            return _progress(self.name, proc.pid, started, stdout)

        finished = False
        try:
            finished, _ = await supervise(
                _exited(proc), timeout=request.timeout, heartbeat=heartbeat, progress=progress
            )
        finally:
            # Always, also after a normal exit: children left in the group die with their script.
            _kill_group(proc.pid)
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.kill()
                await _exited(proc)
            await _drain(helpers)
        return ScriptRun(
            executor=self.name,
            exit_code=proc.returncode if finished else None,
            stdout=stdout,
            stderr=stderr,
            timed_out=not finished,
            duration=time.monotonic() - started,
        )

    async def _run_forked(
        self, request: ScriptRequest, workspace: Workspace, heartbeat: Heartbeat | None
    ) -> ScriptRun:
        stdout = CappedStream(STDOUT_HEAD, STDOUT_TAIL)
        stderr = CappedStream(STDERR_HEAD, STDERR_TAIL)
        started = time.monotonic()
        server = fork_server(self.python, base_environment(_NO_HOME))
        child = await server.spawn(
            _script_path(request, workspace),
            request.argv,
            working_directory(request, workspace),
            script_environment(request, workspace),
        )
        helpers = [
            asyncio.create_task(feed_fd(child.take("stdin_fd"), workspace.context_bytes)),
            asyncio.create_task(pump_fd(child.take("stdout_fd"), stdout)),
            asyncio.create_task(pump_fd(child.take("stderr_fd"), stderr)),
        ]

        def progress() -> dict[str, object]:
            return _progress(self.name, child.pid, started, stdout)

        finished, exit_code = False, None
        try:
            # The fork takes a millisecond or two; heartbeats then carry the pid, as with exec.
            forked, _ = await supervise(
                child.started(), timeout=request.timeout, heartbeat=None, progress=progress
            )
            if forked:
                remaining = request.timeout - (time.monotonic() - started)
                finished, exit_code = await supervise(
                    child.wait(), timeout=remaining, heartbeat=heartbeat, progress=progress
                )
        finally:
            # Always, also after a normal exit: children left in the group die with their script.
            await child.stop()
            await _drain(helpers)
            child.close()
        return ScriptRun(
            executor=self.name,
            exit_code=exit_code if finished else None,
            stdout=stdout,
            stderr=stderr,
            timed_out=not finished,
            duration=time.monotonic() - started,
        )


def _script_path(request: ScriptRequest, workspace: Workspace) -> str:
    # A script file runs where it lies (its sibling modules import as the author expects); inline
    # code runs from the workspace.
    return str(request.file) if request.file is not None else str(workspace.script_path)


def _progress(executor: str, pid: int | None, started: float, stdout: CappedStream) -> dict[str, object]:
    return {
        "executor": executor,
        "pid": pid,
        "elapsed": round(time.monotonic() - started, 1),
        "stdout_bytes": stdout.total,
    }


async def _drain(helpers: list[asyncio.Task[None]]) -> None:
    _, pending = await asyncio.wait(helpers, timeout=_DRAIN_GRACE)
    for task in pending:
        task.cancel()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


async def _exited(proc: asyncio.subprocess.Process) -> int:
    # Not proc.wait(): it also waits for the output pipes to close, which a background child that
    # inherited them delays forever. The return code appears as soon as the script itself exits.
    # Poll every 5 ms during the first second (most tasks are short: a fixed 50 ms poll added ~25 ms
    # to each), then every 50 ms (nobody notices 50 ms on a long script).
    started = time.monotonic()
    while proc.returncode is None:
        await asyncio.sleep(0.005 if time.monotonic() - started < 1.0 else 0.05)
    return proc.returncode


async def _feed(stdin: asyncio.StreamWriter, data: bytes) -> None:
    # A script that never reads stdin must not block on a full pipe: errors here are expected.
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        stdin.write(data)
        await stdin.drain()
        stdin.close()
        await stdin.wait_closed()


async def _pump(reader: asyncio.StreamReader, sink: CappedStream) -> None:
    while chunk := await reader.read(65536):
        sink.feed(chunk)
