"""Workspaces a killed worker left behind, found by the owner in their name and removed.

A worker removes each script's workspace after reading its result, but a worker killed mid-script
(SIGKILL, OOM, a power cut of its container) cannot. On the RAM disk (``/dev/shm``, see
``base.workspace_parent``) such leftovers hold memory until the machine reboots, and a worker in a
crash loop would pile them up. So every workspace folder is named for the process that made it,
``gleitzeit-script-<pid namespace>-<pid>-<random>`` (and its on-disk TMPDIR/HOME
``gleitzeit-tmp-...``), and a starting worker (``build_worker``) removes the folders whose process is
gone.

Only folders of the same pid namespace are judged: a pid from another container means nothing here
(a shared ``/dev/shm`` or temporary folder between containers is left alone). A pid that lives
again in another process keeps its folders until that process ends too: never a live worker's.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from functools import cache
from pathlib import Path

__all__ = ["RAM_DISK", "owner_tag", "sweep_stale_workspaces"]

_NAME = re.compile(r"gleitzeit-(?:script|tmp)-(\d+)-(\d+)-")
# Where workspaces go when it has room (base.workspace_parent), else the temporary folder.
RAM_DISK = Path("/dev/shm")


@cache
def _pid_namespace() -> int:
    try:
        return os.stat("/proc/self/ns/pid").st_ino
    except OSError:  # no /proc (not Linux): one namespace
        return 0


def owner_tag() -> str:
    """``<pid namespace>-<pid>``: the part of a workspace's name that says whose it is."""
    return f"{_pid_namespace()}-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


def sweep_stale_workspaces(parents: list[Path] | None = None) -> int:
    """Remove the workspace folders (in ``/dev/shm`` and the temporary folder) of processes of this pid
    namespace that no longer run; returns how many were removed."""
    namespace, me = _pid_namespace(), os.getpid()
    removed = 0
    for parent in parents if parents is not None else [RAM_DISK, Path(tempfile.gettempdir())]:
        try:
            entries = list(os.scandir(parent))
        except OSError:  # no such folder here
            continue
        for entry in entries:
            match = _NAME.match(entry.name)
            if match is None or int(match[1]) != namespace:
                continue
            pid = int(match[2])
            if pid == me or _alive(pid) or not entry.is_dir(follow_symlinks=False):
                continue
            shutil.rmtree(entry.path, ignore_errors=True)
            removed += not os.path.lexists(entry.path)
    return removed
