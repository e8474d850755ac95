"""The ``python.execute`` activity: run a task's Python script in the sandbox (or locally).

Everything real happens in :mod:`gleitzeit.executors`; this module binds it to Temporal: the attempt's
identity (workflow, task, attempt) names the container, heartbeats carry progress, and errors become
``ApplicationError``s whose ``type`` says what happened. A script's own failure and its timeout are
raised retryable: the task's RetryPolicy decides (the workflow lists them as non-retryable unless the
task declares a ``retry`` block, see ``gleitzeit.workflows.policies``). A task that cannot run (bad
parameters, a missing file, a missing image), bad output and out-of-memory are final; an engine that
does not answer is retried.
"""

from __future__ import annotations

import os
import socket

from temporalio import activity
from temporalio.exceptions import ApplicationError

from gleitzeit.config import Settings
from gleitzeit.contracts.tasks import PythonResult, TaskInput
from gleitzeit.core.errors import DockerUnavailableError
from gleitzeit.executors import SandboxImageMissing, ScriptFailure, ScriptRequest, run_script

__all__ = ["PythonActivities"]


class PythonActivities:
    """The Python-script activity, bound to the worker's settings."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    @activity.defn(name="python.execute")
    async def execute(self, inp: TaskInput) -> PythonResult:
        """Run the script of one ``python/execute`` task attempt and return its result."""
        info = activity.info()
        try:
            request = ScriptRequest.from_parameters(
                inp.parameters,
                settings=self._settings,
                task_id=inp.task_id,
                workflow_id=inp.workflow_id or info.workflow_id or "",
                run_id=inp.run_id or info.workflow_run_id or "",
                activity_id=info.activity_id,
                attempt=info.attempt,
                base_dir=inp.base_dir,
                attempt_timeout=inp.timeout,
                run_roots=inp.file_roots,
            )
            # A local activity (the DAG's opt-in) cannot heartbeat: the server does not know it.
            beat = None if info.is_local else activity.heartbeat
            result = await run_script(request, self._settings, heartbeat=beat)
        except ScriptFailure as exc:
            raise ApplicationError(
                str(exc), exc.details(), type=exc.kind, non_retryable=not exc.retryable
            ) from exc
        except SandboxImageMissing as exc:
            raise ApplicationError(
                str(exc),
                {"executor": "docker", "exit_code": None, "stderr_tail": None},
                type=exc.kind,
                non_retryable=True,
            ) from exc
        except DockerUnavailableError as exc:
            raise ApplicationError(
                str(exc),
                {"executor": "docker", "exit_code": None, "stderr_tail": None},
                type="DockerUnavailable",
                non_retryable=False,
            ) from exc
        result.worker = f"{socket.gethostname()}:{os.getpid()}"
        activity.logger.info(
            "task %s: script finished in %.2f s (%s executor)", inp.task_id, result.duration, result.executor
        )
        return result
