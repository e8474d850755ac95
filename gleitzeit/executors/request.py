"""``ScriptRequest``: one validated ``python/execute`` call, built from a task's parameters."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field

from gleitzeit.config import DEFAULT_MAX_RESULT_BYTES, DEFAULT_SANDBOX_IMAGE, ExecutorKind, Settings
from gleitzeit.executors.base import InvalidScriptParameters, ScriptNotFound

__all__ = ["DEFAULT_CPUS", "DEFAULT_MEMORY", "ScriptRequest", "parse_memory"]

DEFAULT_MEMORY = "256m"
DEFAULT_CPUS = 1.0
# Docker refuses memory limits under 6 MiB.
MIN_MEMORY_BYTES = 6 * 1024 * 1024
_MEMORY_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([bkmg]?)b?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def parse_memory(value: str | int) -> int:
    """``"256m"`` / ``"1g"`` / ``"512k"`` / bytes as an int -> bytes; ValueError when unreadable."""
    if isinstance(value, bool):
        raise ValueError("a size like '256m' is needed, not a boolean")
    if isinstance(value, int | float):
        return int(value)
    match = _MEMORY_RE.match(str(value))
    if not match:
        raise ValueError(f"'{value}' is not a size like '256m', '1g' or a number of bytes")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


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
    # Identity of the attempt: names and labels the container, finds orphans of earlier attempts.
    task_id: str = "script"
    workflow_id: str = ""
    run_id: str = ""
    activity_id: str = ""
    attempt: int = 1

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
    ) -> ScriptRequest:
        """Validate a task's ``parameters`` (already resolved by the workflow).

        Raises :class:`InvalidScriptParameters` naming the key, or :class:`ScriptNotFound` naming
        every path tried. ``attempt_timeout`` is the activity's own timeout: the script's deadline is
        kept inside it so a slow script ends as a clean ``ScriptTimeout``, not an activity timeout.
        """

        def bad(key: str, message: str, hint: str | None = None) -> InvalidScriptParameters:
            return InvalidScriptParameters(
                f"python/execute: parameter '{key}': {message}", key=key, hint=hint, task_id=task_id
            )

        params = dict(parameters or {})
        raw_file = params.get("file", params.get("file_path"))
        code = params.get("code")
        if raw_file is not None and code is not None:
            raise bad("file", "give either 'file' or 'code', not both")
        if raw_file is None and code is None:
            raise bad(
                "file",
                "missing: give 'file' (a script path) or 'code' (inline Python source)",
                hint="file: scripts/step.py",
            )
        file: Path | None = None
        if raw_file is not None:
            if not isinstance(raw_file, str | os.PathLike) or not str(raw_file).strip():
                raise bad("file", f"must be a path, got {type(raw_file).__name__}")
            file = resolve_script(str(raw_file), base_dir, task_id=task_id)
        elif not isinstance(code, str):
            raise bad("code", f"must be Python source text, got {type(code).__name__}")

        context = params.get("context")
        if context is None:
            context = {}
        if not isinstance(context, dict):
            raise bad("context", f"must be a mapping (JSON object), got {type(context).__name__}")
        context = dict(context)
        argv: list[str] = []
        args = params.get("args")
        if isinstance(args, dict):
            context.update(args)
        elif isinstance(args, list | tuple):
            for i, item in enumerate(args):
                if isinstance(item, dict | list | tuple) or item is None:
                    raise bad(
                        f"args[{i}]",
                        "command-line arguments must be strings or numbers",
                        hint="pass structured data as a mapping in 'args' or 'context'",
                    )
                argv.append(str(item))
        elif args is not None:
            raise bad(
                "args",
                f"must be a mapping (merged into the context) or a list of strings, "
                f"got {type(args).__name__}",
            )

        env_raw = params.get("env") or {}
        if not isinstance(env_raw, dict):
            raise bad("env", f"must be a mapping of names to strings, got {type(env_raw).__name__}")
        env: dict[str, str] = {}
        for name, value in env_raw.items():
            if not isinstance(name, str) or not _ENV_NAME_RE.match(name):
                raise bad("env", f"'{name}' is not a valid environment variable name")
            if isinstance(value, dict | list) or value is None:
                raise bad(f"env.{name}", "values must be strings")
            env[name] = str(value).lower() if isinstance(value, bool) else str(value)

        timeout = params.get("timeout", settings.script_timeout)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise bad("timeout", f"must be a positive number of seconds, got {timeout!r}")
        timeout = float(timeout)
        if attempt_timeout:
            # Leave room for starting and cleaning up inside the activity's start-to-close timeout.
            timeout = min(timeout, max(attempt_timeout - 2.0, attempt_timeout * 0.8))

        executor = params.get("executor", settings.executor)
        if executor not in ("auto", "docker", "local"):
            raise bad("executor", f"must be auto, docker or local, got {executor!r}")
        network = params.get("network", False)
        if not isinstance(network, bool):
            raise bad("network", f"must be true or false, got {network!r}")

        memory = params.get("memory", DEFAULT_MEMORY)
        try:
            memory_bytes = parse_memory(memory)
        except ValueError as exc:
            raise bad("memory", str(exc), hint="memory: 512m") from None
        if memory_bytes < MIN_MEMORY_BYTES:
            raise bad("memory", f"{memory!r} is below the 6m minimum a container needs")

        cpus = params.get("cpus", DEFAULT_CPUS)
        if isinstance(cpus, bool) or not isinstance(cpus, int | float) or cpus <= 0:
            raise bad("cpus", f"must be a positive number, got {cpus!r}")
        # A workflow written on a bigger machine still runs here: the engine refuses more CPUs than exist.
        cpus = min(float(cpus), float(os.cpu_count() or 1))

        image = params.get("image") or settings.sandbox_image
        if not isinstance(image, str):
            raise bad("image", f"must be an image name, got {type(image).__name__}")

        return cls(
            file=file,
            code=code,
            context=context,
            argv=argv,
            env=env,
            timeout=timeout,
            executor=executor,
            network=network,
            memory=str(memory_bytes),
            cpus=cpus,
            image=image,
            max_result_bytes=settings.max_result_bytes,
            task_id=task_id,
            workflow_id=workflow_id,
            run_id=run_id,
            activity_id=activity_id,
            attempt=max(1, int(attempt)),
        )


def resolve_script(raw: str, base_dir: str | None, *, task_id: str | None = None) -> Path:
    """A script path: absolute as is; relative against the workflow's directory first, then the cwd."""
    path = Path(os.path.expanduser(raw))
    candidates = [path] if path.is_absolute() else []
    if not path.is_absolute():
        if base_dir:
            candidates.append(Path(base_dir) / path)
        candidates.append(Path.cwd() / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate.resolve()
    tried = ", ".join(str(c) for c in candidates)
    raise ScriptNotFound(f"python/execute: script '{raw}' not found (looked at: {tried})", task_id=task_id)
