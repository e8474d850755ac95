"""Confine file paths named in requests to the configured roots (``settings.file_roots``).

A workflow path, a batch directory or output directory, a script, every file a submitted workflow's
tasks read and every directory its scripts write or mount (``outputs_dir``, ``mounts``) must resolve (symlinks followed) inside one of the roots; the default root is
the server's working directory. Anything else is refused with 403 before anything runs.
"""

from __future__ import annotations

import os
from pathlib import Path

from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import PermissionDeniedError, ValidationError
from gleitzeit.core.files import control_character
from gleitzeit.dsl.params import file_parameters, mount_parameters

__all__ = ["PathForbidden", "PathGuard"]


class PathForbidden(PermissionDeniedError):
    """A path outside every allowed root (answered with 403)."""


class PathGuard:
    """``roots`` (default: the working directory) plus ``extra`` roots that are never the base of
    relative paths (the upload store: uploaded files are named by absolute path)."""

    def __init__(self, roots: list[Path] | None, extra: list[Path] | None = None) -> None:
        self.roots = [Path(os.path.realpath(r)) for r in [*(roots or [Path.cwd()]), *(extra or [])]]

    @property
    def base(self) -> Path:
        """Where relative paths in requests resolve: the first root."""
        return self.roots[0]

    def check(self, path: str | os.PathLike[str], what: str = "path") -> str:
        """The absolute, resolved path; PathForbidden when it is outside every root.

        ValidationError (422) for a path with a control character: a NUL makes every OS call raise.
        """
        bad = control_character(os.fspath(path))
        if bad is not None:
            raise ValidationError(
                f"{what} {os.fspath(path)!r} holds the control character {bad}; no file name holds one"
            )
        raw = Path(os.path.expanduser(os.fspath(path)))
        full = Path(os.path.realpath(raw if raw.is_absolute() else self.base / raw))
        if any(full == root or full.is_relative_to(root) for root in self.roots):
            return str(full)
        allowed = ", ".join(str(r) for r in self.roots)
        raise PathForbidden(
            f"{what} '{os.fspath(path)}' is outside the directories this server may read ({allowed}); "
            "use a path inside them, or add a root with GLEITZEIT_FILE_ROOTS"
        )

    def allowed(self, path: str | os.PathLike[str]) -> str | None:
        """The resolved path when it is inside the roots, else None."""
        try:
            return self.check(path)
        except (PathForbidden, ValidationError):
            return None

    def check_spec(self, spec: WorkflowSpec) -> None:
        """Every plain file a task reads, and the batch directory, must be inside the roots."""
        base = Path(spec.base_dir or self.base)
        if spec.batch is not None:
            self.check(base / spec.batch.directory, "batch directory")
        for task in spec.tasks:
            for _, name in file_parameters(task.method, task.parameters):
                self.check(base / name, f"file of task '{task.id}'")
            for _, name, _ in mount_parameters(task.method, task.parameters):
                self.check(base / name, f"outputs_dir or mount of task '{task.id}'")
