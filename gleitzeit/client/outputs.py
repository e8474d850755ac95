"""The files a run wrote: its outputs directories, what is in them, and one file by its relative path.

A run's outputs directories come from what it was started with (``NativeRun.input()``, the first
event of its history): each ``python/execute`` task's ``outputs_dir`` parameter, and a batch's
``output_dir``. A relative directory resolves against the workflow's ``base_dir``. The parameter is
read leniently from the spec's parameters, so runs started before it existed simply have none. A
literal path or one built from ``${inputs...}`` always resolves; one that names another task's result
(``${prep.result.dir}``) only once the run has completed (failed runs: literal and input paths only).

Confinement: a requested path is relative, has no ``..`` and, with symlinks followed, stays inside
its outputs directory; anything else is ``PermissionDeniedError``. The REST API also requires the
directory to be inside its file roots.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any

from gleitzeit.contracts.batch import BatchInput
from gleitzeit.contracts.dag import DagInput
from gleitzeit.core.errors import NotFoundError, PermissionDeniedError, ValidationError
from gleitzeit.core.models import OutputsDir, RunFile, RunFiles
from gleitzeit.dsl.references import find_references, resolve

__all__ = [
    "MAX_LISTED_FILES",
    "OUTPUTS_PARAMETER",
    "has_task_references",
    "list_files",
    "locate_file",
    "outputs_dirs",
    "relative_path",
    "download_target",
    "save_copy",
]

OUTPUTS_PARAMETER = "outputs_dir"
# A listing is one JSON answer; a run that wrote more files than this is listed in part.
MAX_LISTED_FILES = 10_000


def _raw_dirs(inp: DagInput | BatchInput) -> list[tuple[str, Any, str | None]]:
    """(task id, the declared value, base dir) of every outputs directory the run declares."""
    if isinstance(inp, BatchInput):
        return [("batch", inp.output_dir, inp.base_dir)] if inp.output_dir else []
    found = []
    for task in inp.spec.tasks:
        value = task.parameters.get(OUTPUTS_PARAMETER)
        if task.method == "python/execute" and value:
            found.append((task.id, value, inp.spec.base_dir))
    return found


def has_task_references(inp: DagInput | BatchInput) -> bool:
    """Whether an outputs directory names another task's result (then the run's results are needed)."""
    return any(any(not ref.is_input for ref in find_references(value)) for _, value, _ in _raw_dirs(inp))


def outputs_dirs(
    inp: DagInput | BatchInput, results: Mapping[str, Any] | None, fallback_base: str
) -> list[OutputsDir]:
    """The run's outputs directories, absolute; one whose references cannot be resolved is left out."""
    inputs = inp.inputs if isinstance(inp, DagInput) else {}
    dirs: list[OutputsDir] = []
    seen: set[str] = set()
    for task_id, value, base in _raw_dirs(inp):
        try:
            resolved = resolve(value, results or {}, inputs)
        except ValidationError:
            continue
        if not isinstance(resolved, str | os.PathLike) or not os.fspath(resolved):
            continue
        raw = Path(os.path.expanduser(os.fspath(resolved)))
        full = os.path.realpath(raw if raw.is_absolute() else Path(base or fallback_base) / raw)
        if full in seen:
            continue
        seen.add(full)
        dirs.append(OutputsDir(task_id=task_id, path=full, exists=os.path.isdir(full)))
    return dirs


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def list_files(workflow_id: str, dirs: list[OutputsDir]) -> RunFiles:
    """Every regular file under the directories (symlinks leaving a directory are not listed)."""
    files: list[RunFile] = []
    truncated = False
    for d in dirs:
        if not d.exists:
            continue
        for folder, subdirs, names in os.walk(d.path):
            subdirs.sort()
            for name in sorted(names):
                full = os.path.join(folder, name)
                real = os.path.realpath(full)
                if not _inside(real, d.path) or not os.path.isfile(real):
                    continue
                if len(files) >= MAX_LISTED_FILES:
                    truncated = True
                    break
                stat = os.stat(real)
                files.append(
                    RunFile(
                        path=PurePosixPath(Path(full).relative_to(d.path)).as_posix(),
                        size=stat.st_size,
                        task_id=d.task_id,
                        modified_at=datetime.fromtimestamp(stat.st_mtime, UTC),
                    )
                )
    return RunFiles(workflow_id=workflow_id, directories=dirs, files=files, truncated=truncated)


def relative_path(path: str) -> PurePosixPath:
    """``path`` as a relative path that stays where it is put; PermissionDeniedError otherwise."""
    rel = PurePosixPath(path.replace("\\", "/"))
    if not path or rel.is_absolute() or ".." in rel.parts or "\x00" in path:
        raise PermissionDeniedError(
            f"'{path}' is not a path inside the run's outputs directory (give it relative, without '..')"
        )
    return rel


def locate_file(
    workflow_id: str, dirs: list[OutputsDir], path: str, task: str | None = None
) -> tuple[Path, OutputsDir]:
    """The file ``path`` (relative to an outputs directory) and the directory it is in.

    ``task`` picks the directory when several tasks wrote one. PermissionDeniedError for a path that
    leaves its directory, NotFoundError when no directory holds the file, ValidationError when
    several hold a different file under that path and ``task`` was not given.
    """
    rel = relative_path(path)
    if not dirs:
        raise NotFoundError(
            f"run '{workflow_id}' declares no outputs directory (a python task's outputs_dir, a batch's "
            "output_dir), so it has no files to download"
        )
    chosen = [d for d in dirs if task is None or d.task_id == task]
    if not chosen:
        known = ", ".join(sorted({d.task_id for d in dirs}))
        raise NotFoundError(
            f"task '{task}' of run '{workflow_id}' has no outputs directory (tasks with one: {known})"
        )
    hits: dict[str, OutputsDir] = {}
    for d in chosen:
        full = os.path.realpath(os.path.join(d.path, *rel.parts))
        if not _inside(full, d.path):
            raise PermissionDeniedError(
                f"'{path}' leads outside the outputs directory of task '{d.task_id}' ({d.path}); refused"
            )
        if os.path.isfile(full):
            hits.setdefault(full, d)
    if not hits:
        where = ", ".join(d.path for d in chosen)
        raise NotFoundError(f"run '{workflow_id}' has no file '{path}' in its outputs ({where})")
    if len(hits) > 1:
        tasks = ", ".join(d.task_id for d in hits.values())
        raise ValidationError(
            f"'{path}' exists in the outputs of several tasks ({tasks}); name one with task="
        )
    [(full, d)] = hits.items()
    return Path(full), d


def save_copy(source: Path, dest: str | os.PathLike[str] | None, path: str) -> Path:
    """Copy ``source`` to ``dest`` (a file, an existing directory, or None: the current directory)."""
    target = download_target(dest, path)
    part = target.with_name(target.name + ".part")
    shutil.copyfile(source, part)
    os.replace(part, target)  # a reader never sees half a file
    return target


def download_target(dest: str | os.PathLike[str] | None, path: str) -> Path:
    """Where a download of ``path`` goes: ``dest``, or inside it when it is a directory."""
    name = PurePosixPath(path.replace("\\", "/")).name
    target = Path(os.fspath(dest)).expanduser() if dest is not None else Path.cwd()
    if target.is_dir():
        target = target / name
    target.parent.mkdir(parents=True, exist_ok=True)
    return target
