"""``run_script``: run one ``python/execute`` request with the right executor, without Temporal.

The activity (gleitzeit.activities.python) and the client's ``execute_python_script`` both call it.
"""

from __future__ import annotations

import asyncio
import logging
import time

from gleitzeit.config import Settings
from gleitzeit.contracts.tasks import PythonResult
from gleitzeit.executors.base import Executor, Heartbeat, Workspace
from gleitzeit.executors.docker import DockerExecutor, docker_status
from gleitzeit.executors.errors import SandboxRefused, ScriptNotFound
from gleitzeit.executors.local import LocalExecutor
from gleitzeit.executors.output import interpret
from gleitzeit.executors.request import ScriptRequest

__all__ = ["choose_executor", "prepare_host_paths", "run_script"]

log = logging.getLogger("gleitzeit.executors")

# The unsandboxed fallback is announced at WARNING at most this often (every task would be noise).
_WARN_EVERY = 300.0
_last_warning = 0.0


async def choose_executor(request: ScriptRequest, settings: Settings | None = None) -> Executor:
    """``docker`` and ``local`` as asked; ``auto`` -> Docker when the engine answers and has the image,
    else local with a visible warning that scripts run unsandboxed.

    ``settings`` decides whether the local executor uses its fork server (``local_forkserver``);
    None: :func:`~gleitzeit.config.get_settings`.
    """
    global _last_warning
    fork_server = None if settings is None else settings.local_forkserver
    if request.executor == "local":
        return LocalExecutor(fork_server=fork_server)
    if request.executor == "docker":
        return DockerExecutor()
    reason = await asyncio.to_thread(docker_status, request.image)
    if reason is None:
        return DockerExecutor()
    now = time.monotonic()
    level = logging.WARNING if now - _last_warning >= _WARN_EVERY else logging.DEBUG
    if level == logging.WARNING:
        _last_warning = now
    log.log(
        level,
        "executor auto: %s; running python scripts with the LOCAL executor: they run "
        "UNSANDBOXED with the worker's user rights (task '%s'). Set executor: docker to require "
        "the sandbox.",
        reason,
        request.task_id,
    )
    return LocalExecutor(fork_server=fork_server)


async def run_script(
    request: ScriptRequest,
    settings: Settings | None = None,
    *,
    heartbeat: Heartbeat | None = None,
    executor: Executor | None = None,
) -> PythonResult:
    """Run the script of ``request`` once and return its result.

    Raises a :class:`~gleitzeit.executors.base.ScriptFailure` subclass for the script's own failure
    (non-zero exit, timeout, out of memory, bad output), :class:`DockerUnavailableError` when the
    engine does not answer, :class:`SandboxImageMissing` when the image is missing (both from the
    ``gleitzeit.core.errors`` tree). ``heartbeat`` is
    called every few seconds with progress details while the script runs. ``settings`` (the
    worker's) says whether the local executor forks scripts from its fork server; the request itself
    carries every other setting (``from_parameters`` read them). ``executor`` overrides the choice.
    """
    await asyncio.to_thread(prepare_host_paths, request)
    runner = executor or await choose_executor(request, settings)
    workspace = await asyncio.to_thread(Workspace.create, request)
    try:
        run = await runner.run(request, workspace, heartbeat)
        result_file = await asyncio.to_thread(workspace.read_result, request.max_result_bytes)
        module_result = None
        if result_file is None:
            module_result = await asyncio.to_thread(workspace.read_module_result, request.max_result_bytes)
        return interpret(run, request, result_file, module_result)
    finally:
        _remove_later(workspace)


def prepare_host_paths(request: ScriptRequest) -> None:
    """Create the read-write directories the script was given (``outputs_dir``, ``rw`` mounts) with the
    worker's user as owner; a read-only mount must exist. Blocking."""
    for mount in request.mounts:
        if mount.mode == "ro":
            if not mount.path.exists():
                raise ScriptNotFound(
                    f"python/execute: task '{request.task_id}': mounted path {mount.path} does not exist",
                    task_id=request.task_id,
                )
            continue
        try:
            mount.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            what = "outputs_dir" if mount.path == request.outputs_dir else "rw mount"
            raise SandboxRefused(
                f"python/execute: task '{request.task_id}': cannot create {what} {mount.path}: "
                f"{exc.strerror or exc}",
                task_id=request.task_id,
            ) from None


# Removals still running, referenced so that they are not collected before they finish.
_removals: set[asyncio.Future[None]] = set()


def _remove_later(workspace: Workspace) -> None:
    """Remove the workspace in a thread without waiting for it: its result has been read, and removing
    the tree (~1.5 ms of kernel time on a small VM) need not delay the task's answer."""
    removal = asyncio.get_running_loop().run_in_executor(None, workspace.remove)
    _removals.add(removal)
    removal.add_done_callback(_removals.discard)
