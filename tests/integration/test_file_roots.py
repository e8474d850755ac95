"""File roots are enforced where a file is opened: a path built at run time (``${inputs.p}``) that
resolves outside them fails its task at once with ``PermissionDenied`` naming the task, the path and
the roots, on the real dev server with a real worker. The roots are the worker's configured ones or
the ones the run was started with (the REST API passes its own); with neither, reads are free.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
from temporalio.testing import WorkflowEnvironment

from gleitzeit.client.batch import start_batch, wait_batch
from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.config import Settings
from gleitzeit.contracts.batch import BatchInput
from gleitzeit.core.errors import PermissionDeniedError, TaskExecutionError
from gleitzeit.core.files import OutsideRoots, find_file, read_roots
from gleitzeit.dsl import load_workflow, validate_workflow
from gleitzeit.worker.build import build_worker

LLM_WF = """\
name: roots-llm
inputs:
  p: {type: string}
tasks:
  - id: summarise
    method: llm/chat
    parameters:
      model: any
      prompt: summarise
      file_path: "${inputs.p}"
"""

SCRIPT_WF = """\
name: roots-script
inputs:
  script: {type: string}
tasks:
  - id: run
    method: python/execute
    parameters:
      file: "${inputs.script}"
      executor: local
"""


def _settings(**kw: Any) -> Settings:
    return Settings(task_queue=f"roots-{uuid.uuid4().hex[:8]}", executor="local", auto_start_llm=False, **kw)


@pytest.fixture
def tree(tmp_path: Path) -> tuple[Path, Path]:
    """(a root with the pipelines, a directory outside it holding a secret, a script and a batch)."""
    base, outside = tmp_path / "root", tmp_path / "outside"
    base.mkdir()
    (outside / "docs").mkdir(parents=True)
    (outside / "secret.txt").write_text("secret")
    (outside / "steal.py").write_text("print('{}')")
    (outside / "docs" / "a.txt").write_text("a")
    (base / "llm.yaml").write_text(LLM_WF)
    (base / "script.yaml").write_text(SCRIPT_WF)
    return base, outside


async def _refused(
    env: WorkflowEnvironment, settings: Settings, wf: Path, inputs: dict[str, Any], **kw: Any
) -> Any:
    assert validate_workflow(wf) == []  # only known at run time
    async with build_worker(env.client, settings):
        handle = await start_pipeline(env.client, load_workflow(wf), inputs, settings, **kw)
        with pytest.raises(TaskExecutionError) as info:
            await wait_result(handle)
    return info.value


async def test_an_llm_file_from_an_input_outside_the_roots_is_refused(
    local_env: WorkflowEnvironment, tree: tuple[Path, Path]
) -> None:
    base, outside = tree
    secret = str(outside / "secret.txt")
    error = await _refused(local_env, _settings(file_roots=[base]), base / "llm.yaml", {"p": secret})
    assert (error.task_id, error.cause_type, error.attempts) == ("summarise", "PermissionDenied", 1)
    message = str(error)
    assert "task 'summarise'" in message and secret in message and str(base.resolve()) in message


async def test_a_script_outside_the_roots_the_run_carries_is_refused(
    local_env: WorkflowEnvironment, tree: tuple[Path, Path]
) -> None:
    # The worker has no roots of its own: the run's roots (as the REST API starts runs) still hold.
    base, outside = tree
    script = str(outside / "steal.py")
    error = await _refused(
        local_env, _settings(), base / "script.yaml", {"script": script}, file_roots=[str(base)]
    )
    assert (error.task_id, error.cause_type, error.attempts) == ("run", "PermissionDenied", 1)
    assert "task 'run'" in str(error) and script in str(error) and str(base.resolve()) in str(error)


async def test_a_batch_directory_outside_the_roots_is_refused(
    local_env: WorkflowEnvironment, tree: tuple[Path, Path]
) -> None:
    base, outside = tree
    settings = _settings(file_roots=[base], data_dir=base / "data")
    inp = BatchInput(
        directory=str(outside / "docs"),
        method="python/execute",
        parameters={"code": "print('{}')", "executor": "local"},
        base_dir=str(base),
    )
    async with build_worker(local_env.client, settings):
        handle = await start_batch(local_env.client, inp, settings)
        with pytest.raises(PermissionDeniedError, match="outside the file roots") as info:
            await wait_batch(handle)
    assert str(outside / "docs") in str(info.value) and str(base.resolve()) in str(info.value)


def test_without_roots_reads_are_free_and_with_them_existence_outside_is_not_told(
    tree: tuple[Path, Path],
) -> None:
    base, outside = tree
    assert read_roots([], None) == []
    assert find_file(str(outside / "secret.txt"), str(base)) == outside / "secret.txt"  # a CLI user's path
    sets = read_roots([base], None)
    for name in ("secret.txt", "missing.txt", "../outside/secret.txt"):
        raw = name if name.startswith("..") else str(outside / name)
        with pytest.raises(OutsideRoots, match="outside the file roots"):
            find_file(raw, str(base), root_sets=sets)
    # The run's roots only narrow the worker's: a path must be inside both.
    (base / "in.txt").write_text("in")
    assert (
        find_file("in.txt", str(base), root_sets=read_roots([base.parent], [str(base)]))
        == (base / "in.txt").resolve()
    )
    with pytest.raises(OutsideRoots):
        find_file(str(outside / "secret.txt"), None, root_sets=read_roots([base.parent], [str(base)]))
