"""The one lookup of a file a task names: the script of ``python/execute``, the files and images of LLM tasks.

An absolute path is taken as is; a relative one is looked for against the workflow's directory
(``base_dir``) first, then the current directory. The caller turns :class:`MissingFile` into its own
error (``ScriptNotFound`` for a script, a non-retryable ``FileNotFound`` in the LLM activities).
"""

from __future__ import annotations

import os
from pathlib import Path

from gleitzeit.core.errors import NotFoundError

__all__ = ["MissingFile", "find_directory", "find_file"]


class MissingFile(NotFoundError):
    """No file at any of the places looked at (``tried``, in order)."""

    def __init__(self, raw: str, tried: list[Path], what: str = "file") -> None:
        self.raw = raw
        self.tried = ", ".join(str(c) for c in tried)
        super().__init__(f"{what} '{raw}' not found (looked at: {self.tried})")


def _candidates(raw: str, base_dir: str | None) -> list[Path]:
    path = Path(os.path.expanduser(raw))
    if path.is_absolute():
        return [path]
    return ([Path(base_dir) / path] if base_dir else []) + [Path.cwd() / path]


def find_directory(raw: str, base_dir: str | None) -> Path | None:
    """The first existing directory among the candidates for ``raw`` (as for files), or None.

    The original Gleitzeit resolved ``batch.directory`` against the current directory (its examples
    say ``examples/documents`` and are run from the project's root), so that is the second place.
    """
    return next((c for c in _candidates(raw, base_dir) if c.is_dir()), None)


def find_file(raw: str, base_dir: str | None, *, what: str = "file") -> Path:
    """The first existing file among the candidates for ``raw`` (not resolved); :class:`MissingFile` if none."""
    candidates = _candidates(raw, base_dir)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise MissingFile(raw, candidates, what)
