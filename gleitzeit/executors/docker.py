"""The Docker executor: one sandboxed container per script attempt, always removed afterwards.

The ``docker`` SDK is synchronous: short calls go through ``asyncio.to_thread``, the two long ones
(waiting for the container, draining its output) through their own daemon threads, so heartbeats
keep flowing and a busy thread pool never delays a kill. Engine trouble becomes
:class:`DockerUnavailableError` (retryable); the script's own failures are reported in the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import docker
import requests
from docker.errors import APIError, DockerException, ImageNotFound, NotFound
from docker.models.containers import Container

from gleitzeit.core.errors import DockerUnavailableError
from gleitzeit.executors.base import (
    STDERR_HEAD,
    STDERR_TAIL,
    STDOUT_HEAD,
    STDOUT_TAIL,
    CappedStream,
    Heartbeat,
    ScriptRun,
    Workspace,
    in_thread,
    supervise,
)
from gleitzeit.executors.errors import InvalidScriptParameters, SandboxImageMissing
from gleitzeit.executors.request import ScriptRequest
from gleitzeit.executors.sandbox import (
    LABEL_ACTIVITY_ID,
    LABEL_ATTEMPT,
    LABEL_MANAGED,
    LABEL_RUN_ID,
    LABEL_TASK_ID,
    LABEL_WORKFLOW_ID,
    container_name,
    container_spec,
)

__all__ = [
    "DockerExecutor",
    "docker_status",
    "get_client",
    "remove_orphans",
    "sweep_exited_containers",
]

log = logging.getLogger(__name__)

PING_TIMEOUT = 3.0
# How long the answer of "does the engine answer, does the image exist" is trusted in `auto` mode.
STATUS_TTL = 10.0
API_TIMEOUT = 60.0
# Cleaning up after the script may take a moment on a loaded engine (a fork bomb's 128 processes).
_DRAIN_GRACE = 5.0

_client: docker.DockerClient | None = None
_client_lock = threading.Lock()
_status_cache: dict[str, tuple[float, str | None]] = {}


def _unavailable(exc: BaseException) -> DockerUnavailableError:
    return DockerUnavailableError(
        f"no Docker engine answers ({exc}); start one (scripts/setup_docker.sh as root) or set "
        "executor: local (runs scripts unsandboxed)"
    )


def get_client() -> docker.DockerClient:
    """The process-wide Docker client (DOCKER_HOST etc. from the environment); blocking."""
    global _client
    with _client_lock:
        if _client is None:
            try:
                _client = docker.from_env(timeout=int(API_TIMEOUT))
            except DockerException as exc:
                raise _unavailable(exc) from exc
        return _client


def docker_status(image: str) -> str | None:
    """None when the engine answers and has ``image``; else why not. Cached briefly; blocking."""
    now = time.monotonic()
    cached = _status_cache.get(image)
    if cached is not None and now - cached[0] < STATUS_TTL:
        return cached[1]
    reason: str | None = None
    try:
        probe = docker.from_env(timeout=int(PING_TIMEOUT))
        try:
            probe.ping()
            try:
                probe.images.get(image)
            except ImageNotFound:
                reason = (
                    f"the sandbox image '{image}' does not exist (build it: scripts/build_sandbox_image.sh)"
                )
        finally:
            probe.close()
    except (DockerException, requests.RequestException, OSError) as exc:
        reason = f"no Docker engine answers ({type(exc).__name__}: {exc})"
    _status_cache[image] = (now, reason)
    return reason


def remove_orphans(client: docker.DockerClient, request: ScriptRequest) -> list[str]:
    """Remove containers left by earlier attempts of the same task (a worker crashed under them).

    Only containers of an *earlier* attempt or another run of the same workflow and task count:
    siblings running right now (same attempt) are left alone. Returns the removed names.
    """
    if not request.workflow_id:
        return []
    labels = [f"{LABEL_WORKFLOW_ID}={request.workflow_id}", f"{LABEL_TASK_ID}={request.task_id}"]
    if request.activity_id:
        labels.append(f"{LABEL_ACTIVITY_ID}={request.activity_id}")
    removed = []
    for container in client.containers.list(all=True, filters={"label": labels}):
        container_labels = container.labels or {}
        try:
            attempt = int(container_labels.get(LABEL_ATTEMPT, "0"))
        except ValueError:
            attempt = 0
        if attempt < request.attempt or container_labels.get(LABEL_RUN_ID) != request.run_id:
            with contextlib.suppress(NotFound):
                container.remove(force=True)
                removed.append(container.name)
    if removed:
        log.warning(
            "removed %d container(s) left by an earlier attempt of task '%s' in workflow '%s': %s",
            len(removed),
            request.task_id,
            request.workflow_id,
            ", ".join(removed),
        )
    return removed


def sweep_exited_containers(client: docker.DockerClient | None = None, *, older_than: float = 600.0) -> int:
    """Remove exited Gleitzeit containers older than ``older_than`` seconds (e.g. at worker start).

    Running containers are never touched: they may belong to another live worker on the same engine.
    """
    client = client or get_client()
    cutoff = time.time() - older_than
    count = 0
    for container in client.containers.list(all=True, filters={"label": LABEL_MANAGED, "status": "exited"}):
        finished = container.attrs.get("State", {}).get("FinishedAt", "")
        if _docker_time(finished) < cutoff:
            with contextlib.suppress(NotFound, APIError):
                container.remove(force=True)
                count += 1
    return count


class DockerExecutor:
    """Runs each attempt in a fresh container of ``request.image`` with the sandbox's limits."""

    name = "docker"

    async def run(
        self, request: ScriptRequest, workspace: Workspace, heartbeat: Heartbeat | None
    ) -> ScriptRun:
        stdout = CappedStream(STDOUT_HEAD, STDOUT_TAIL)
        stderr = CappedStream(STDERR_HEAD, STDERR_TAIL)
        try:
            client = await asyncio.to_thread(get_client)
            await asyncio.to_thread(remove_orphans, client, request)
            creating = asyncio.ensure_future(asyncio.to_thread(self._create, client, request, workspace))
            try:
                container = await asyncio.shield(creating)
            except asyncio.CancelledError:
                # Cancelled while the engine creates it: the container appears anyway; remove it.
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(_force_remove, await creating)
                raise
        except (requests.RequestException, OSError) as exc:
            raise _unavailable(exc) from exc
        started = time.monotonic()

        def progress() -> dict[str, Any]:
            return {
                "executor": self.name,
                "container": container.name,
                "elapsed": round(time.monotonic() - started, 1),
                "stdout_bytes": stdout.total,
            }

        try:
            # Attach before start: nothing the script prints is missed, and no log file is needed.
            stream = await asyncio.to_thread(
                client.api.attach, container.id, stdout=True, stderr=True, stream=True, demux=True
            )
            drained = in_thread(_drain, stream, stdout, stderr, name=f"drain-{container.name}")
            await asyncio.to_thread(container.start)
            waited = in_thread(
                container.wait, timeout=request.timeout + API_TIMEOUT, name=f"wait-{container.name}"
            )
            finished, status = await supervise(
                waited, timeout=request.timeout, heartbeat=heartbeat, progress=progress
            )
            oom_killed = False
            exit_code: int | None = None
            if finished:
                exit_code = int((status or {}).get("StatusCode", -1))
                await asyncio.to_thread(container.reload)
                oom_killed = bool(container.attrs.get("State", {}).get("OOMKilled"))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(asyncio.shield(drained), _DRAIN_GRACE)
            return ScriptRun(
                executor=self.name,
                exit_code=exit_code,
                stdout=stdout,
                stderr=stderr,
                timed_out=not finished,
                oom_killed=oom_killed,
                duration=time.monotonic() - started,
            )
        except (requests.RequestException, OSError) as exc:
            raise _unavailable(exc) from exc
        except APIError as exc:
            if exc.is_server_error():
                raise _unavailable(exc) from exc
            raise
        finally:
            # Always: timeout, cancellation, engine errors. Shielded so a second cancellation cannot
            # leave the container behind.
            await asyncio.shield(asyncio.to_thread(_force_remove, container))

    @staticmethod
    def _create(client: docker.DockerClient, request: ScriptRequest, workspace: Workspace) -> Container:
        name = container_name(request)
        spec = container_spec(request, workspace, name)
        for _ in range(2):
            try:
                return client.containers.create(**spec)
            except ImageNotFound as exc:
                raise SandboxImageMissing(
                    f"the sandbox image '{request.image}' does not exist on the Docker engine: build it "
                    "with scripts/build_sandbox_image.sh, or set GLEITZEIT_SANDBOX_IMAGE (or the task's "
                    "'image') to a Python image you have"
                ) from exc
            except APIError as exc:
                if exc.status_code == 409:
                    # A leftover of this very attempt (e.g. run_script repeated by hand): replace it.
                    with contextlib.suppress(NotFound):
                        client.containers.get(name).remove(force=True)
                    continue
                if exc.is_client_error():
                    raise InvalidScriptParameters(
                        f"python/execute: the Docker engine refused the container: {exc.explanation or exc}",
                        task_id=request.task_id,
                        executor="docker",
                    ) from exc
                raise _unavailable(exc) from exc
        raise _unavailable(RuntimeError(f"container name {name} stays in use"))


def _drain(
    stream: Iterator[tuple[bytes | None, bytes | None]], stdout: CappedStream, stderr: CappedStream
) -> None:
    with contextlib.suppress(requests.RequestException, OSError, ValueError):
        for out, err in stream:
            if out:
                stdout.feed(out)
            if err:
                stderr.feed(err)


def _force_remove(container: Container) -> None:
    try:
        container.remove(force=True)
    except NotFound:
        pass
    except (APIError, requests.RequestException, OSError) as exc:
        log.error(
            "could not remove container %s: %s (remove it with: docker rm -f %s)",
            container.name,
            exc,
            container.name,
        )


def _docker_time(value: str) -> float:
    """Docker's RFC 3339 timestamps (nanoseconds) as epoch seconds; 0 when unreadable."""
    try:
        return datetime.fromisoformat(value[:26].rstrip("Z") + "+00:00").timestamp()
    except ValueError:
        return 0.0
