"""A script's ``outputs_dir`` (and ``mounts``): the one place on the host it may write, at the same path
inside the sandbox, its files owned by the worker's user; paths outside the file roots are refused.

The Docker tests need the engine and the sandbox image (CI runs them, never skips them).
"""

from __future__ import annotations

import errno
import os
import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment, WorkflowEnvironment

from gleitzeit.activities.python import PythonActivities
from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.config import Settings
from gleitzeit.contracts.tasks import TaskInput
from gleitzeit.core.errors import TaskExecutionError
from gleitzeit.dsl import load_workflow, validate_workflow
from gleitzeit.executors import ScriptRequest, run_script
from gleitzeit.worker.build import build_worker

WRITER = """
import json, os, sys
ctx = json.load(sys.stdin)
with open("relative.txt", "w") as f:            # the working directory is the outputs dir
    f.write("cwd")
os.mkdir(os.path.join(os.environ["GLEITZEIT_OUTPUTS_DIR"], "sub"))
with open(os.path.join(os.environ["GLEITZEIT_OUTPUTS_DIR"], "sub", "env.txt"), "w") as f:
    f.write("env")
refused = {}
for path in ctx["elsewhere"]:
    try:
        with open(path, "w") as f:
            f.write("escaped")
    except OSError as exc:
        refused[path] = exc.errno
with open(ctx["input"]) as f:
    read = f.read()
print(json.dumps({"cwd": os.getcwd(), "uid": os.getuid(), "refused": refused, "read": read}))
"""


def pipeline_dir(tmp_path: Path) -> Path:
    base = tmp_path / "pipeline"
    (base / "inputs").mkdir(parents=True)
    (base / "inputs" / "data.txt").write_text("input data")
    return base


@pytest.mark.docker
async def test_docker_writes_only_its_outputs_dir_as_the_worker_user(
    tmp_path: Path, docker_image: str, unique_task_id: str
) -> None:
    base = pipeline_dir(tmp_path)
    results = base.resolve() / "results"
    read_only = [str(base / "inputs" / "x.txt"), "/gleitzeit/in/x", "/etc/x"]
    # Not mounted: its parent exists in the container only as a mount point's parent (on the tmpfs
    # /tmp when the test's folder lies under /tmp), so the write may succeed there, never on the host.
    elsewhere = [*read_only, str(base / "sibling.txt")]
    request = ScriptRequest.from_parameters(
        {
            "code": WRITER,
            "executor": "docker",
            "image": docker_image,
            "outputs_dir": "results",
            "mounts": ["inputs"],
            "context": {"elsewhere": elsewhere, "input": str(base.resolve() / "inputs" / "data.txt")},
        },
        settings=Settings(),
        task_id=unique_task_id,
        base_dir=str(base),
    )
    result = await run_script(request)
    assert result.executor == "docker"
    out = result.result
    assert out["cwd"] == str(results) and out["read"] == "input data"
    assert out["uid"] == os.getuid()
    # Read-only everywhere else: the image, the script's own mount, the read-only input mount...
    for path in read_only:
        assert out["refused"].get(path) == errno.EROFS, (path, out["refused"])
    # ...and whatever else the script writes stays in the container: the host never sees it.
    assert not (base / "sibling.txt").exists() and not (base / "inputs" / "x.txt").exists()
    assert sorted(p.relative_to(results).as_posix() for p in results.rglob("*")) == [
        "relative.txt",
        "sub",
        "sub/env.txt",
    ]
    assert (results / "relative.txt").read_text() == "cwd" and (
        results / "sub" / "env.txt"
    ).read_text() == "env"
    for path in [results, *results.rglob("*")]:
        assert (path.stat().st_uid, path.stat().st_gid) == (os.getuid(), os.getgid()), path
    shutil.rmtree(results)  # the user can delete what the script wrote
    assert not results.exists()


async def test_local_scripts_get_the_same_variable_and_working_directory(tmp_path: Path) -> None:
    base = pipeline_dir(tmp_path)
    code = "import json, os; print(json.dumps([os.getcwd(), os.environ['GLEITZEIT_OUTPUTS_DIR']]))"
    request = ScriptRequest.from_parameters(
        {"code": code, "executor": "local", "outputs_dir": "results/run-1"},
        settings=Settings(),
        base_dir=str(base),
    )
    result = await run_script(request)
    expected = str(base.resolve() / "results" / "run-1")
    assert result.result == [expected, expected]  # created by the worker, parents included
    assert Path(expected).is_dir()


async def test_an_outputs_dir_outside_the_roots_fails_the_task_at_once(tmp_path: Path) -> None:
    base = pipeline_dir(tmp_path)
    outside = tmp_path / "outside"
    inp = TaskInput(
        workflow_id="wf",
        run_id="r",
        task_id="save",
        method="python/execute",
        parameters={"code": "print(1)", "executor": "local", "outputs_dir": str(outside)},
        base_dir=str(base),
    )
    settings = Settings(executor="local", file_roots=[base])
    with pytest.raises(ApplicationError) as info:
        await ActivityEnvironment().run(PythonActivities(settings).execute, inp)
    assert info.value.type == "PermissionDenied" and info.value.non_retryable
    assert "task 'save'" in str(info.value) and str(base.resolve()) in str(info.value)
    assert not outside.exists()  # refused before anything is created


async def test_an_outputs_dir_from_a_reference_is_checked_when_it_runs(
    tmp_path: Path, local_env: WorkflowEnvironment
) -> None:
    base = pipeline_dir(tmp_path)
    outside = tmp_path / "outside"
    wf = base / "wf.yaml"
    wf.write_text(
        "name: refs\ntasks:\n"
        "  - id: where\n    method: python/execute\n    parameters:\n"
        f'      code: \'import json; print(json.dumps({{"dir": "{outside}"}}))\'\n'
        "      executor: local\n"
        "  - id: save\n    method: python/execute\n    dependencies: [where]\n    parameters:\n"
        "      code: print(1)\n      executor: local\n"
        "      outputs_dir: ${where.result.dir}\n"
    )
    assert validate_workflow(wf) == []  # only known at run time
    settings = Settings(task_queue=f"outputs-{uuid.uuid4().hex[:8]}", executor="local", file_roots=[base])
    async with build_worker(local_env.client, settings):
        handle = await start_pipeline(local_env.client, load_workflow(wf), {}, settings)
        with pytest.raises(TaskExecutionError) as info:
            await wait_result(handle)
    error: Any = info.value
    assert (error.task_id, error.cause_type, error.attempts) == ("save", "PermissionDenied", 1)
    assert "outside the file roots" in str(error) and str(base.resolve()) in str(error)
    assert not outside.exists()
