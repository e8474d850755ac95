"""The one lookup of a file a task names (the script of ``python/execute``, the files and images of LLM
tasks), and the one rule of where a task may write (``outputs_dir`` and ``mounts`` of ``python/execute``).

An absolute path is taken as is; a relative one is looked for against the workflow's directory
(``base_dir``) first, then the current directory. The caller turns :class:`MissingFile` into its own
error (``ScriptNotFound`` for a script, a non-retryable ``FileNotFound`` in the LLM activities).

A directory a script may write (or have mounted) must lie inside the file roots: the configured
``file_roots`` (``GLEITZEIT_FILE_ROOTS``) or, when none are configured, the workflow's directory and
the current directory (:func:`file_roots_for`). :func:`confine` resolves symlinks first, so a link
cannot lead out of them.

A file a task reads (an LLM task's files and images, a script, a batch directory) is checked where it
is opened, against the root sets of :func:`read_roots`: the worker's configured roots, and the roots
the run was started with (the REST API's, carried in the run's input so that whichever worker runs a
task enforces them). With neither, reads are not restricted: the worker's user runs its own
pipelines, and an absolute path on the command line keeps working as in any other CLI tool.

``control_character`` finds what no path or id may hold: a NUL makes every OS call on a path raise
ValueError (a 500 in the API, a failed task at run time), and the other C0/C1 controls turn log
lines, web UI ids and terminal output into something else than they say.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Sequence
from pathlib import Path

from gleitzeit.core.errors import NotFoundError, PermissionDeniedError

__all__ = [
    "MissingFile",
    "OutsideRoots",
    "PATH_PATTERN",
    "confine",
    "confine_all",
    "control_character",
    "file_roots_for",
    "find_directory",
    "find_file",
    "read_roots",
]

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# The same rule as a JSON Schema ``pattern`` (the REST API's schema says what its guard refuses).
PATH_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"


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


def find_file(
    raw: str, base_dir: str | None, *, what: str = "file", root_sets: Sequence[Sequence[Path]] = ()
) -> Path:
    """The first existing file among the candidates for ``raw`` (not resolved); :class:`MissingFile` if none.

    With ``root_sets`` (:func:`read_roots`) only candidates inside every set are looked at, and the
    one found is returned resolved (what was checked is what is opened); :class:`OutsideRoots` when
    no candidate is inside, before anything is looked at, so the answer never tells whether a file
    outside the roots exists.
    """
    candidates = _candidates(raw, base_dir)
    if root_sets:
        inside: list[Path] = []
        for candidate in candidates:
            with contextlib.suppress(OutsideRoots):
                inside.append(confine_all(str(candidate), None, root_sets, what=what))
        if not inside:
            confine_all(str(candidates[0]), None, root_sets, what=what)
        candidates = inside
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise MissingFile(raw, candidates, what)


class OutsideRoots(PermissionDeniedError):
    """A path a task names lies outside every file root (``roots``, resolved)."""

    def __init__(self, message: str, roots: Sequence[Path]) -> None:
        super().__init__(message)
        self.roots = list(roots)


def file_roots_for(configured: Sequence[str | os.PathLike[str]], base_dir: str | None) -> list[Path]:
    """The roots a task's paths must lie in: ``configured`` when given, else ``base_dir`` and the
    current directory; resolved (symlinks followed)."""
    raw = list(configured) or [p for p in (base_dir, os.getcwd()) if p]
    roots: list[Path] = []
    for r in raw:
        root = Path(os.path.realpath(os.path.expanduser(os.fspath(r))))
        if root not in roots:
            roots.append(root)
    return roots


def confine(raw: str, base_dir: str | None, roots: Sequence[Path], *, what: str = "path") -> Path:
    """``raw`` (relative to ``base_dir``, else the current directory) resolved; :class:`OutsideRoots`
    when it is not inside one of ``roots``. The path need not exist."""
    path = Path(os.path.expanduser(raw))
    if not path.is_absolute():
        path = Path(base_dir or os.getcwd()) / path
    full = Path(os.path.realpath(path))
    if any(full == root or full.is_relative_to(root) for root in roots):
        return full
    allowed = ", ".join(str(r) for r in roots)
    shown = f"'{raw}'" if str(full) == raw else f"'{raw}' ({full})"
    raise OutsideRoots(
        f"{what} {shown} is outside the file roots ({allowed}); use a path inside them, or add a root "
        "with GLEITZEIT_FILE_ROOTS",
        roots,
    )


def read_roots(
    configured: Sequence[str | os.PathLike[str]], carried: Sequence[str] | None
) -> list[list[Path]]:
    """The root sets a path a task opens must lie in, each: the worker's ``configured`` roots (when
    set) and the roots the run was started with (``carried``, e.g. the REST API's; when set). A run
    can only narrow what the worker allows, never widen it. Empty: no restriction."""
    sets = [file_roots_for(roots, None) for roots in (configured, carried or []) if roots]
    return [s for s in sets if s]


def confine_all(
    raw: str, base_dir: str | None, root_sets: Sequence[Sequence[Path]], *, what: str = "path"
) -> Path:
    """``raw`` resolved as :func:`confine` does, inside every one of ``root_sets`` (none: unchecked,
    not resolved); :class:`OutsideRoots` naming the set it is outside of."""
    path = Path(os.path.expanduser(raw))
    for roots in root_sets:
        path = confine(raw, base_dir, roots, what=what)
    return path
