"""The local executor: the script contract end to end, process-group kills, environment isolation.

Every test runs twice: scripts started by the fork server (the default) and by ``exec``
(``GLEITZEIT_LOCAL_FORKSERVER=false``); tests/executors/test_forkserver.py covers what only the fork
server has.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
import pytest

from gleitzeit.config import Settings, get_settings
from gleitzeit.executors import (
    ScriptBadOutput,
    ScriptFailure,
    ScriptNotFound,
    ScriptOOM,
    ScriptRequest,
    ScriptTimeout,
    base,
    run_script,
    runner,
)
from tests.executors import scripts

SETTINGS = Settings(executor="local")


@pytest.fixture(autouse=True, params=["forkserver", "exec"])
def start_method(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """How the local executor starts scripts in this test (``get_settings().local_forkserver``)."""
    monkeypatch.setenv("GLEITZEIT_LOCAL_FORKSERVER", "true" if request.param == "forkserver" else "false")
    get_settings.cache_clear()  # read once per process: read it again with this test's variable
    yield str(request.param)
    get_settings.cache_clear()


def local(**parameters: Any) -> ScriptRequest:
    parameters.setdefault("executor", "local")
    return ScriptRequest.from_parameters(parameters, settings=SETTINGS, task_id="local-test")


async def test_context_in_json_out_on_stdin_and_in_the_context_file() -> None:
    result = await run_script(local(code=scripts.ECHO_CONTEXT, context={"a": 1}, args={"b": [2, 3]}))
    expected = {"a": 1, "b": [2, 3]}
    assert result.result == {"stdin": expected, "file": expected, "argv": []}
    assert result.output == "working on local-test"
    assert result.exit_code == 0
    assert result.executor == "local"


@pytest.mark.parametrize("ram_disk", [True, False], ids=["ram-disk", "temp-folder"])
async def test_the_workspace_is_removed_after_the_answer(
    ram_disk: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Made on the RAM disk when there is one (the script's TMPDIR/HOME still on disk), else in the
    # temporary folder; removed in a thread after the result was read, so the answer does not wait.
    ram, temp = tmp_path / "ram", tmp_path / "temp"
    ram.mkdir()
    temp.mkdir()
    monkeypatch.setattr(base, "_RAM_DISK", ram)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    if ram_disk:
        monkeypatch.delenv("TMPDIR", raising=False)
    else:
        monkeypatch.setenv("TMPDIR", str(temp))
    seen = local(code=_SEEN, context={"a": 1})
    result = await run_script(seen)
    assert result.result["context"] == {"a": 1}
    assert Path(result.result["context_file"]).is_relative_to(ram if ram_disk else temp)
    assert Path(result.result["tmpdir"]).is_relative_to(temp)
    assert result.result["home"] == result.result["tmpdir"]
    with pytest.raises(ScriptFailure):
        await run_script(local(code="import sys; sys.exit(3)"))
    await asyncio.gather(*runner._removals)
    assert list(ram.iterdir()) == [] and list(temp.iterdir()) == []


_SEEN = """
import json, os, sys
with open(os.environ["GLEITZEIT_CONTEXT_FILE"]) as f:
    context = json.load(f)
print(json.dumps({"context": context, "context_file": os.environ["GLEITZEIT_CONTEXT_FILE"],
                  "tmpdir": os.environ["TMPDIR"], "home": os.environ["HOME"]}))
"""


async def test_a_list_of_args_becomes_argv() -> None:
    result = await run_script(local(code=scripts.ECHO_CONTEXT, args=["--n", 5, "x y"]))
    assert result.result["argv"] == ["--n", "5", "x y"]
    assert result.result["stdin"] == {}


async def test_plain_text_output_is_the_result() -> None:
    result = await run_script(local(code=scripts.PLAIN_TEXT))
    assert result.result == "hello from a plain script"


async def test_json_that_does_not_parse_is_a_bad_output_error() -> None:
    with pytest.raises(ScriptBadOutput, match="looks like JSON but does not parse"):
        await run_script(local(code=scripts.BAD_JSON))


async def test_the_result_file_wins_over_stdout() -> None:
    result = await run_script(local(code=scripts.RESULT_FILE))
    assert result.result == {"via": "result file", "n": 3}
    assert "just chatter" in result.output


async def test_bad_json_in_the_result_file_is_a_bad_output_error() -> None:
    with pytest.raises(ScriptBadOutput, match="GLEITZEIT_RESULT_FILE"):
        await run_script(local(code=scripts.BAD_RESULT_FILE))


async def test_a_non_zero_exit_carries_the_exit_code_and_the_stderr_tail() -> None:
    with pytest.raises(ScriptFailure) as caught:
        await run_script(local(code=scripts.FAILS))
    error = caught.value
    assert error.kind == "ScriptError"
    assert error.exit_code == 7
    assert "about to fail" in (error.stderr_tail or "")
    assert "exit code 7" in str(error) and "about to fail" in str(error)
    assert error.details() == {"exit_code": 7, "stderr_tail": error.stderr_tail, "executor": "local"}


async def test_a_memory_error_is_reported_as_out_of_memory() -> None:
    with pytest.raises(ScriptOOM):
        await run_script(local(code="raise MemoryError()"))


async def test_a_timeout_kills_the_whole_process_group_including_children() -> None:
    with pytest.raises(ScriptTimeout) as caught:
        await run_script(local(code=scripts.CHILD_THEN_HANG, timeout=1.5))
    match = re.search(r"child-pid=(\d+)", caught.value.stderr_tail or "")
    assert match, caught.value.stderr_tail
    assert await _gone(int(match.group(1)))


async def test_a_background_child_does_not_keep_the_task_running() -> None:
    started = time.monotonic()
    result = await run_script(local(code=scripts.BACKGROUND_CHILD, timeout=30))
    assert result.result == {"done": True}
    # The child sleeps 600 s; finishing well inside the timeout shows it was killed with its group.
    assert time.monotonic() - started < 25


async def test_the_script_sees_none_of_the_workers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLEITZEIT_TEST_SECRET", "hunter2-local")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "also-secret")
    result = await run_script(local(code=scripts.DUMP_ENVIRONMENT, env={"GREETING": "hi", "N": 3}))
    env = result.result
    assert "GLEITZEIT_TEST_SECRET" not in env and "AWS_SECRET_ACCESS_KEY" not in env
    assert "hunter2-local" not in str(result.model_dump())
    assert env["GREETING"] == "hi" and env["N"] == "3"
    assert env["GLEITZEIT_TASK_ID"] == "local-test"


async def test_a_relative_file_resolves_against_the_workflow_directory(tmp_path: Path) -> None:
    (tmp_path / "step.py").write_text("import json; print(json.dumps('from step'))\n")
    request = ScriptRequest.from_parameters(
        {"file": "step.py", "executor": "local"}, settings=SETTINGS, task_id="t", base_dir=str(tmp_path)
    )
    assert request.file == (tmp_path / "step.py").resolve()
    assert (await run_script(request)).result == "from step"


def test_a_missing_file_names_every_path_tried(tmp_path: Path) -> None:
    with pytest.raises(ScriptNotFound) as caught:
        ScriptRequest.from_parameters(
            {"file_path": "nope/missing.py"}, settings=SETTINGS, task_id="t", base_dir=str(tmp_path)
        )
    message = str(caught.value)
    assert str(tmp_path / "nope/missing.py") in message
    assert str(Path.cwd() / "nope/missing.py") in message
    assert caught.value.kind == "ScriptNotFound"


async def test_a_huge_stdout_is_bounded_and_the_last_line_still_is_the_result() -> None:
    result = await run_script(local(code=scripts.huge_stdout(8, final_json=True), timeout=60))
    assert result.result == {"lines": 8 * 1024}
    assert "bytes truncated by gleitzeit" in result.output
    assert len(result.output) < SETTINGS.max_result_bytes


async def test_a_huge_stdout_without_a_result_line_is_a_clear_error() -> None:
    with pytest.raises(ScriptBadOutput, match="too large to be the result"):
        await run_script(local(code=scripts.huge_stdout(4, final_json=False), timeout=60))


async def test_the_worker_python_runs_the_script() -> None:
    result = await run_script(local(code="import sys, json; print(json.dumps(sys.executable))"))
    assert result.result == sys.executable


async def test_the_start_method_is_the_one_asked_for(start_method: str) -> None:
    # A forked script's parent is the fork server; an exec'd script's parent is this process.
    result = await run_script(local(code="import os; print(os.getppid())"))
    assert (result.result == os.getpid()) == (start_method == "exec")


async def _gone(pid: int) -> bool:
    """True once ``pid`` no longer runs (a zombie waiting for its new parent counts as gone)."""
    for _ in range(50):
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        await asyncio.sleep(0.1)
    return False
