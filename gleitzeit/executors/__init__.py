"""Script executors for ``python/execute``: a Docker sandbox and a local subprocess.

``run_script(ScriptRequest.from_parameters(params, settings=...))`` runs one script without Temporal;
the activity in :mod:`gleitzeit.activities.python` wraps the same call. docs/python_scripts.md has
the script contract.
"""

from gleitzeit.executors.base import Executor, ScriptRun, Workspace
from gleitzeit.executors.docker import DockerExecutor, docker_status, sweep_exited_containers
from gleitzeit.executors.errors import (
    InvalidScriptParameters,
    SandboxImageMissing,
    SandboxRefused,
    ScriptBadOutput,
    ScriptFailure,
    ScriptNotFound,
    ScriptOOM,
    ScriptTimeout,
)
from gleitzeit.executors.forkserver import ForkServerLost, shutdown_fork_servers
from gleitzeit.executors.local import LocalExecutor
from gleitzeit.executors.request import ScriptRequest
from gleitzeit.executors.runner import choose_executor, run_script

__all__ = [
    "DockerExecutor",
    "Executor",
    "ForkServerLost",
    "InvalidScriptParameters",
    "LocalExecutor",
    "SandboxImageMissing",
    "SandboxRefused",
    "ScriptBadOutput",
    "ScriptFailure",
    "ScriptNotFound",
    "ScriptOOM",
    "ScriptRequest",
    "ScriptRun",
    "ScriptTimeout",
    "Workspace",
    "choose_executor",
    "docker_status",
    "run_script",
    "shutdown_fork_servers",
    "sweep_exited_containers",
]
