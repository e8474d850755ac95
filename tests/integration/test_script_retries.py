"""A python task's ``retry`` block on a real worker and dev server: the real ``python.execute``
activity (local executor) fails on attempt 1 and passes on attempt 2, told which by
``GLEITZEIT_ATTEMPT``; the run's history replays."""

from __future__ import annotations

import textwrap
import uuid
from pathlib import Path

import pytest
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Replayer

from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.config import Settings
from gleitzeit.contracts.dag import DagResult
from gleitzeit.core.errors import TaskExecutionError
from gleitzeit.dsl import load_workflow
from gleitzeit.worker.build import WORKFLOWS, build_worker

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(120)]

FLAKY = """\
import json, os, sys
attempt = int(os.environ["GLEITZEIT_ATTEMPT"])
if attempt == 1:
    sys.exit("the service is not up yet")
print(json.dumps({"attempt": attempt}))
"""


def pipeline(tmp_path: Path, retry: str) -> Path:
    (tmp_path / "flaky.py").write_text(FLAKY)
    path = tmp_path / "flaky.yaml"
    path.write_text(
        textwrap.dedent(
            f"""\
            name: flaky service
            tasks:
              - id: call
                method: python/execute
                {retry}
                parameters:
                  file: flaky.py
                  executor: local
            """
        )
    )
    return path


async def run(env: WorkflowEnvironment, path: Path) -> DagResult:
    settings = Settings(task_queue=f"retries-{uuid.uuid4()}", executor="local")
    async with build_worker(env.client, settings):
        handle = await start_pipeline(env.client, load_workflow(path), {}, settings)
        try:
            return await wait_result(handle)
        finally:
            replayer = Replayer(workflows=list(WORKFLOWS), data_converter=pydantic_data_converter)
            await replayer.replay_workflow(await handle.fetch_history())


async def test_a_declared_retry_reruns_a_failing_script(
    local_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    result = await run(local_env, pipeline(tmp_path, "retry: {max_attempts: 3, base_delay: 0.1}"))
    assert result.results["call"]["result"] == {"attempt": 2}


async def test_without_retry_the_script_runs_once(local_env: WorkflowEnvironment, tmp_path: Path) -> None:
    with pytest.raises(TaskExecutionError) as info:
        await run(local_env, pipeline(tmp_path, ""))
    assert info.value.cause_type == "ScriptError"
    assert "the service is not up yet" in str(info.value)
