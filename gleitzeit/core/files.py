"""The one lookup of a file a task names: the script of ``python/execute``, the files and images of LLM tasks.

An absolute path is taken as is; a relative one is looked for against the workflow's directory
(``base_dir``) first, then the current directory. The caller turns :class:`MissingFile` into its own
error (``ScriptNotFound`` for a script, a non-retryable ``FileNotFound`` in the LLM activities).

``control_character`` finds what no path or id may hold: a NUL makes every OS call on a path raise
ValueError (a 500 in the API, a failed task at run time), and the other C0/C1 controls turn log
lines, web UI ids and terminal output into something else than they say.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from gleitzeit.core.errors import NotFoundError

__all__ = ["MissingFile", "control_character", "find_file"]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def control_character(text: str) -> str | None:
    """The first control character in ``text`` as ``U+0000``, or None when there is none."""
    found = _CONTROL.search(text)
    return f"U+{ord(found.group()):04X}" if found else None


class MissingFile(NotFoundError):
    """No file at any of the places looked at (``tried``, in order)."""

    def __init__(self, raw: str, tried: list[Path], what: str = "file") -> None:
        self.raw = raw
        self.tried = ", ".join(str(c) for c in tried)
        super().__init__(f"{what} '{raw}' not found (looked at: {self.tried})")


def find_file(raw: str, base_dir: str | None, *, what: str = "file") -> Path:
    """The first existing file among the candidates for ``raw`` (not resolved); :class:`MissingFile` if none."""
    path = Path(os.path.expanduser(raw))
    candidates = [path] if path.is_absolute() else []
    if not path.is_absolute():
        if base_dir:
            candidates.append(Path(base_dir) / path)
        candidates.append(Path.cwd() / path)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise MissingFile(raw, candidates, what)
