"""``ScriptRequest``: one validated ``python/execute`` call, built from a task's parameters.

The parameters are checked by the one model of the method (:class:`gleitzeit.dsl.params.PythonParams`,
the same ``gleitzeit validate`` uses); the request is what the executors need, resolved from it: the
script's absolute path, the argv, the limits with the worker's defaults filled in, and the host paths
the script may use (``outputs_dir``, ``mounts``) resolved and confined to the worker's file roots.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import pydantic
from pydantic import BaseModel, Field

from gleitzeit.config import DEFAULT_MAX_RESULT_BYTES, DEFAULT_SANDBOX_IMAGE, ExecutorKind, Settings
from gleitzeit.core.files import (
    MissingFile,
    OutsideRoots,
    confine_all,
    file_roots_for,
    find_file,
    read_roots,
)
from gleitzeit.core.units import parse_size
from gleitzeit.dsl.params import PythonParams, runtime_problem
from gleitzeit.dsl.params.python import DEFAULT_MEMORY
from gleitzeit.executors.errors import InvalidScriptParameters, SandboxRefused, ScriptNotFound

__all__ = ["DEFAULT_CPUS", "DEFAULT_MEMORY", "HostMount", "ScriptRequest", "resolve_script"]

DEFAULT_CPUS = 1.0
# Hints for the keys people get wrong most.
_HINTS = {
    "file": "file: scripts/step.py",
    "memory": "memory: 512m",
    "timeout": "timeout: 60 (or 5m)",
    "outputs_dir": "outputs_dir: results",
}
# Where the sandbox keeps its own things (or the kernel's): a host path mounted over one of them would
# break the container or hide the script's inputs. "/" and /tmp exactly, the others with everything below.
_RESERVED_EXACT = (Path("/"), Path("/tmp"))
_RESERVED_TREES = (Path("/proc"), Path("/sys"), Path("/dev"), Path("/gleitzeit"))


class HostMount(BaseModel):
    """A host path the script sees at the same absolute path, read-only or read-write (resolved)."""

    path: Path
    mode: Literal["ro", "rw"] = "ro"


class ScriptRequest(BaseModel):
    """Everything one script attempt needs; construct with :meth:`from_parameters` to validate."""

    file: Path | None = None  # resolved, absolute
    code: str | None = None
    context: dict[str, Any] = Field(default_factory=dict)
    argv: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    timeout: float = 60.0
    executor: ExecutorKind = "auto"
    network: bool = False
    memory: str = DEFAULT_MEMORY
    cpus: float = DEFAULT_CPUS
    image: str = DEFAULT_SANDBOX_IMAGE
    max_result_bytes: int = DEFAULT_MAX_RESULT_BYTES
    # The directory the script writes its files to (also its working directory); one of ``mounts``.
    outputs_dir: Path | None = None
    # Every host path the script sees (outputs_dir first), each inside the file roots.
    mounts: list[HostMount] = Field(default_factory=list)
    # Identity of the attempt: names and labels the container, finds orphans of earlier attempts.
    task_id: str = "script"
    workflow_id: str = ""
    run_id: str = ""
    activity_id: str = ""
    attempt: int = 1

    @property
    def writes_host(self) -> bool:
        """Whether the script may write files on the worker's host (an ``rw`` mount)."""
        return any(m.mode == "rw" for m in self.mounts)

    @property
    def source_name(self) -> str:
        return str(self.file) if self.file is not None else "<inline code>"

    @classmethod
    def from_parameters(
        cls,
        parameters: Mapping[str, Any],
        *,
        settings: Settings,
        task_id: str = "script",
        workflow_id: str = "",
        run_id: str = "",
        activity_id: str = "",
        attempt: int = 1,
        base_dir: str | None = None,
        attempt_timeout: float | None = None,
        run_roots: list[str] | None = None,
    ) -> ScriptRequest:
        """Validate a task's ``parameters`` (already resolved by the workflow) with :class:`PythonParams`.

        Raises :class:`InvalidScriptParameters` naming the key, :class:`ScriptNotFound` naming
        every path tried, or :class:`SandboxRefused` for an ``outputs_dir`` or mount outside the file
        roots (``settings.file_roots``; when empty, ``base_dir`` and the current directory), or for a
        script file outside the roots that apply to reads (:func:`gleitzeit.core.files.read_roots`).
        ``run_roots`` are the roots the run was started with (the REST API's): every path must also
        lie inside them. ``attempt_timeout`` is the activity's own timeout: the script's deadline is
        kept inside it so a slow script ends as a clean ``ScriptTimeout``, not an activity timeout.
        """
        try:
            params = PythonParams.model_validate(dict(parameters or {}))
        except pydantic.ValidationError as exc:
            key, message, kind = runtime_problem(exc)
            if kind in ("missing_parameter", "conflicting_parameters"):
                key = "file"  # the script: file (or file_path) or code
            raise InvalidScriptParameters(
                f"python/execute: parameter '{key}': {message}",
                key=key,
                hint=_HINTS.get(key),
                task_id=task_id,
            ) from None
        raw_file = params.script_file
        read_sets = read_roots(settings.file_roots, run_roots)
        file = (
            resolve_script(raw_file, base_dir, task_id=task_id, root_sets=read_sets)
            if raw_file is not None
            else None
        )
        outputs_dir, mounts = _host_paths(params, settings, base_dir, task_id, run_roots)

        context = dict(params.context or {})
        argv: list[str] = []
        if isinstance(params.args, dict):
            context.update(params.args)
        elif params.args is not None:
            argv = [str(item) for item in params.args]

        timeout = params.timeout or settings.script_timeout
        if attempt_timeout:
            # Leave room for starting and cleaning up inside the activity's start-to-close timeout.
            timeout = min(timeout, max(attempt_timeout - 2.0, attempt_timeout * 0.8))
        # A workflow written on a bigger machine still runs here: the engine refuses more CPUs than exist.
        cpus = min(params.cpus if params.cpus is not None else DEFAULT_CPUS, float(os.cpu_count() or 1))

        return cls(
            file=file,
            code=params.code,
            context=context,
            argv=argv,
            env=dict(params.env or {}),
            timeout=float(timeout),
            executor=params.executor or settings.executor,
            network=bool(params.network),
            memory=str(params.memory or parse_size(DEFAULT_MEMORY)),
            cpus=cpus,
            image=params.image or settings.sandbox_image,
            max_result_bytes=settings.max_result_bytes,
            outputs_dir=outputs_dir,
            mounts=mounts,
            task_id=task_id,
            workflow_id=workflow_id,
            run_id=run_id,
            activity_id=activity_id,
            attempt=max(1, int(attempt)),
        )


def resolve_script(
    raw: str,
    base_dir: str | None,
    *,
    task_id: str | None = None,
    root_sets: Sequence[Sequence[Path]] = (),
) -> Path:
    """A script path, found by :func:`gleitzeit.core.files.find_file` (inside ``root_sets``) and
    resolved; ScriptNotFound if not, SandboxRefused when it lies outside the roots."""
    try:
        return find_file(raw, base_dir, what="script", root_sets=root_sets).resolve()
    except MissingFile as exc:
        raise ScriptNotFound(
            f"python/execute: script '{raw}' not found (looked at: {exc.tried})", task_id=task_id
        ) from None
    except OutsideRoots as exc:
        raise SandboxRefused(f"python/execute: task '{task_id}': {exc}", task_id=task_id) from None


def _host_paths(
    params: PythonParams, settings: Settings, base_dir: str | None, task_id: str, run_roots: list[str] | None
) -> tuple[Path | None, list[HostMount]]:
    """``outputs_dir`` and ``mounts`` resolved (relative to ``base_dir``), each inside the file roots
    (and inside the run's own roots, ``run_roots``, when it carries them).

    Checked here, on the resolved values, whatever ``validate`` saw: a path that came from a
    reference is only known now, and the worker's roots are the ones that count.
    """
    declared: list[tuple[str, str, Literal["ro", "rw"]]] = []
    if params.outputs_dir is not None:
        declared.append(("outputs_dir", params.outputs_dir, "rw"))
    declared.extend((f"mounts[{i}]", m.path, m.mode) for i, m in enumerate(params.mounts or []))
    if not declared:
        return None, []
    root_sets = [file_roots_for(settings.file_roots, base_dir), *read_roots([], run_roots)]
    by_path: dict[Path, HostMount] = {}
    outputs_dir: Path | None = None
    for key, raw, mode in declared:
        try:
            path = confine_all(raw, base_dir, root_sets, what=key)
        except OutsideRoots as exc:
            raise SandboxRefused(f"python/execute: task '{task_id}': {exc}", task_id=task_id) from None
        if path in _RESERVED_EXACT or any(path == t or path.is_relative_to(t) for t in _RESERVED_TREES):
            raise InvalidScriptParameters(
                f"python/execute: parameter '{key}': {path} is reserved for the sandbox itself",
                key=key,
                hint="use a directory of your own, e.g. outputs_dir: results",
                task_id=task_id,
            )
        if key == "outputs_dir":
            outputs_dir = path
        # The same path twice: read-write wins (one mount point per path in a container).
        if path not in by_path or mode == "rw":
            by_path[path] = HostMount(path=path, mode=mode)
    return outputs_dir, list(by_path.values())
