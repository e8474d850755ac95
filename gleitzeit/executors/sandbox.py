"""The sandbox a Docker script runs in: container name, labels and limits (pure functions, no engine).

Every container is named and labelled after its workflow, task and attempt, so the next attempt
(after a worker crash) finds and removes the orphan of the previous one.
"""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from typing import Any

from docker.types import LogConfig, Ulimit

from gleitzeit.executors.base import Workspace
from gleitzeit.executors.local import contract_variables
from gleitzeit.executors.request import ScriptRequest

__all__ = [
    "CONTAINER_IN",
    "CONTAINER_OUT",
    "LABEL_ATTEMPT",
    "LABEL_MANAGED",
    "LABEL_RUN_ID",
    "LABEL_TASK_ID",
    "LABEL_WORKFLOW_ID",
    "PIDS_LIMIT",
    "SANDBOX_USER",
    "container_labels",
    "container_name",
    "container_spec",
    "host_mounts",
    "sandbox_user",
]

LABEL_MANAGED = "gleitzeit.managed"
LABEL_WORKFLOW_ID = "gleitzeit.workflow_id"
LABEL_TASK_ID = "gleitzeit.task_id"
LABEL_ATTEMPT = "gleitzeit.attempt"
LABEL_RUN_ID = "gleitzeit.run_id"
LABEL_ACTIVITY_ID = "gleitzeit.activity_id"

CONTAINER_IN = "/gleitzeit/in"
CONTAINER_OUT = "/gleitzeit/out"
# nobody:nogroup: no rights on anything in the image, whatever the image's own USER says.
SANDBOX_USER = "65534:65534"
# Enough for a script with a few worker processes or threads; a fork bomb hits the wall quickly.
PIDS_LIMIT = 128
TMPFS_SIZE = "64m"
# Largest file a script may write (RLIMIT_FSIZE): caps the result file and each file in an outputs_dir.
MAX_FILE_BYTES = 64 * 1024 * 1024
# The container's own deadline, after ours: if the worker dies, the script still ends by itself.
SELF_KILL_GRACE = 30

_NAME_MAX = 63
_NAME_BAD = re.compile(r"[^a-zA-Z0-9_.-]+")


def container_name(request: ScriptRequest) -> str:
    """``gz-<workflow>-<task>-a<attempt>``, made safe for Docker (<= 63 chars, hash suffix when cut).

    Without a workflow (``run_script`` outside Temporal) a random id keeps names unique.
    """
    workflow = request.workflow_id or f"local-{uuid.uuid4().hex[:12]}"
    raw = f"gz-{workflow}-{request.task_id}-a{request.attempt}"
    name = _NAME_BAD.sub("-", raw).strip("-.") or "gz"
    if len(name) > _NAME_MAX or name != raw:
        digest = hashlib.sha1(raw.encode()).hexdigest()[:8]
        name = f"{name[: _NAME_MAX - 9].rstrip('-.')}-{digest}"
    return name


def container_labels(request: ScriptRequest) -> dict[str, str]:
    return {
        LABEL_MANAGED: "true",
        LABEL_WORKFLOW_ID: request.workflow_id,
        LABEL_TASK_ID: request.task_id,
        LABEL_ATTEMPT: str(request.attempt),
        LABEL_RUN_ID: request.run_id,
        LABEL_ACTIVITY_ID: request.activity_id,
    }


def input_file_mounts(request: ScriptRequest) -> dict[str, dict[str, str]]:
    """The batch form hands a python task its file as ``context.file_path`` (as the original did):
    mount that one file read-only at the same path, so the script opens it in the container as it
    would locally. Nothing else of the host is visible."""
    raw = request.context.get("file_path")
    if isinstance(raw, str) and os.path.isabs(raw) and os.path.isfile(raw):
        return {raw: {"bind": raw, "mode": "ro"}}
    return {}


def host_mounts(request: ScriptRequest) -> dict[str, dict[str, str]]:
    """The task's ``outputs_dir`` and ``mounts``, each at the same absolute path as on the host (the
    script reads and writes the paths the workflow names); everything else stays read-only."""
    return {str(m.path): {"bind": str(m.path), "mode": m.mode} for m in request.mounts}


def sandbox_user(request: ScriptRequest) -> str:
    """``nobody`` unless the script writes on the host: then the worker's own uid:gid.

    Why: ``nobody`` owns nothing, in the image or on the host, which is what a read-only sandbox
    wants. Files written into an ``outputs_dir`` would belong to 65534, so the user could neither
    delete nor overwrite them, and ``nobody`` could only write a directory opened to everyone. The
    worker's uid (gid, no supplementary groups) writes exactly where the worker itself may, and owns
    nothing inside the container, whose root file system stays read-only; every other limit
    (no capabilities, no-new-privileges, no network) is the same.
    """
    if request.writes_host and hasattr(os, "getuid"):
        return f"{os.getuid()}:{os.getgid()}"
    return SANDBOX_USER


def container_spec(request: ScriptRequest, workspace: Workspace, name: str) -> dict[str, Any]:
    """Keyword arguments for ``client.containers.create``: the script and every limit."""
    script = f"{CONTAINER_IN}/{workspace.script_name}"
    starter = f"{CONTAINER_IN}/{workspace.add_entry_point()}"
    deadline = int(request.timeout) + SELF_KILL_GRACE
    # stdin carries the context (as in local mode); `timeout` ends an orphaned script by itself.
    command = [
        "/bin/sh",
        "-c",
        f'exec timeout -s KILL {deadline} python3 "$0" "$@" < {CONTAINER_IN}/context.json',
        starter,
        script,
        *request.argv,
    ]
    environment = {
        "HOME": "/tmp",
        "TMPDIR": "/tmp",
        "LANG": "C.UTF-8",
        "PYTHONUNBUFFERED": "1",
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONIOENCODING": "utf-8",
        **request.env,
        **contract_variables(request, f"{CONTAINER_IN}/context.json", f"{CONTAINER_OUT}/result.json"),
    }
    return {
        "image": request.image,
        "command": command,
        "name": name,
        "labels": container_labels(request),
        "environment": environment,
        "volumes": {
            str(workspace.in_dir): {"bind": CONTAINER_IN, "mode": "ro"},
            str(workspace.out_dir): {"bind": CONTAINER_OUT, "mode": "rw"},
            **input_file_mounts(request),
            **host_mounts(request),
        },
        # In the outputs directory, a relative `open("report.json", "w")` lands where the user looks.
        "working_dir": str(request.outputs_dir) if request.outputs_dir is not None else "/tmp",
        "user": sandbox_user(request),
        "network_mode": "bridge" if request.network else "none",
        "mem_limit": int(request.memory),
        # Equal to mem_limit: no swap, so a memory hog is killed instead of thrashing the host.
        "memswap_limit": int(request.memory),
        "nano_cpus": int(request.cpus * 1e9),
        "pids_limit": PIDS_LIMIT,
        "read_only": True,
        "tmpfs": {"/tmp": f"rw,noexec,nosuid,nodev,size={TMPFS_SIZE},mode=1777"},
        "security_opt": ["no-new-privileges"],
        "cap_drop": ["ALL"],
        "ulimits": [Ulimit(name="fsize", soft=MAX_FILE_BYTES, hard=MAX_FILE_BYTES)],
        # Output is streamed by attach; no log file on the engine's disk (a huge stdout costs nothing there).
        "log_config": LogConfig(type="none"),
        "hostname": "sandbox",
        "ipc_mode": "private",
        "detach": True,
    }
