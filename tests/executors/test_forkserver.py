"""The local executor's fork server: scripts behave as under ``python script.py``, and the zygote is safe.

Real processes throughout: each test forks real scripts from a real zygote. The differential tests
run one script both ways, in the same workspace, and compare what the script saw and did.
"""

from __future__ import annotations

import ast
import asyncio
import json
import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psutil
import pytest
from temporalio.api.failure.v1 import Failure
from temporalio.converter import DataConverter
from temporalio.exceptions import ApplicationError

from gleitzeit.config import Settings, get_settings
from gleitzeit.core.errors import ServiceUnavailableError
from gleitzeit.executors import (
    LocalExecutor,
    ScriptFailure,
    ScriptRequest,
    ScriptRun,
    Workspace,
    choose_executor,
    forkserver,
    run_script,
)
from gleitzeit.executors.forkserver import ForkServerLost, fork_server, protocol, shutdown_fork_servers
from gleitzeit.executors.local import base_environment
from gleitzeit.workflows.policies import NON_RETRYABLE_TYPES
from tests.helpers import until

SETTINGS = Settings(executor="local")
FORKED = LocalExecutor(fork_server=True)
EXECED = LocalExecutor(fork_server=False)


def local(**parameters: Any) -> ScriptRequest:
    parameters.setdefault("executor", "local")
    return ScriptRequest.from_parameters(parameters, settings=SETTINGS, task_id="fork-test")


def zygote_pid() -> int | None:
    return fork_server(sys.executable, base_environment("/nonexistent")).pid


@pytest.fixture
async def workspace_for() -> AsyncIterator[Any]:
    made: list[Workspace] = []

    def make(request: ScriptRequest) -> Workspace:
        made.append(Workspace.create(request))
        return made[-1]

    yield make
    for ws in made:
        ws.remove()


async def both_ways(request: ScriptRequest, workspace: Workspace) -> tuple[ScriptRun, ScriptRun]:
    forked = await FORKED.run(request, workspace, None)
    execed = await EXECED.run(request, workspace, None)
    return forked, execed


def outcome(run: ScriptRun) -> tuple[int | None, str, str]:
    return run.exit_code, run.stdout.text(), run.stderr.text()


# ------------------------------------------------------------------- same behaviour as a fresh python

PROBE = r"""
import json, os, signal, sys, tempfile
import __main__
print(json.dumps({
    "name": __name__,
    "file": __file__,
    "globals": sorted(globals()),
    "loader": type(__loader__).__name__,
    "main_is_us": __main__.__dict__ is globals(),
    "argv": sys.argv,
    "orig_argv": sys.orig_argv,
    "path": sys.path,
    "cwd": os.getcwd(),
    "environ": dict(os.environ),
    "tmp": tempfile.gettempdir(),
    "own_session": os.getsid(0) == os.getpid() == os.getpgid(0),
    "fds": sorted(os.listdir("/proc/self/fd")),
    "signals": [str(signal.getsignal(s)) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD,
                                                   signal.SIGPIPE, signal.SIGXFSZ, signal.SIGHUP)],
    "flags": list(sys.flags),
    "stdio": [(s.name, s.mode, s.encoding, s.errors, s.line_buffering, s.write_through,
               type(s.buffer).__name__, s.seekable()) for s in (sys.stdin, sys.stdout, sys.stderr)],
    "dunder_stdio": [sys.__stdin__ is sys.stdin, sys.__stdout__ is sys.stdout, sys.__stderr__ is sys.stderr],
    "stdin": sys.stdin.read(),
}, sort_keys=True))
"""


async def test_a_forked_script_sees_what_a_fresh_interpreter_sees(workspace_for: Any) -> None:
    request = local(code=PROBE, args=["--n", 5], context={"k": "v"}, env={"GREETING": "hi"})
    forked, execed = await both_ways(request, workspace_for(request))
    assert outcome(forked) == outcome(execed)
    seen = json.loads(forked.stdout.text())
    assert seen["name"] == "__main__" and seen["main_is_us"]
    assert seen["argv"][1:] == ["--n", "5"]
    assert json.loads(seen["stdin"]) == {"k": "v"}
    assert seen["fds"] == ["0", "1", "2", "3"]  # nothing of the zygote leaked (3 is listdir's own)


@pytest.mark.parametrize(
    "code",
    [
        pytest.param("import sys\nsys.exit('bye now')\n", id="sys.exit(message)"),
        pytest.param("import sys\nsys.exit(3)\n", id="sys.exit(3)"),
        pytest.param("import sys\nsys.exit(None)\n", id="sys.exit(None)"),
        pytest.param("import sys\nsys.exit(True)\n", id="sys.exit(True)"),
        pytest.param("raise SystemExit(-1)\n", id="SystemExit(-1)"),
        pytest.param("raise SystemExit(256)\n", id="SystemExit(256)"),
        pytest.param("def f():\n    raise ValueError('boom')\n\nf()\n", id="uncaught-exception"),
        pytest.param(
            "try:\n    1 / 0\nexcept ZeroDivisionError as e:\n    raise KeyError('k') from e\n", id="chained"
        ),
        pytest.param("def (:\n", id="syntax-error"),
        pytest.param("raise KeyboardInterrupt\n", id="KeyboardInterrupt"),
        pytest.param("import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n", id="killed-by-SIGTERM"),
        pytest.param("import atexit\natexit.register(print, 'at exit')\nprint('main')\n", id="atexit"),
        pytest.param(
            "import threading, time\n"
            "threading.Thread(target=lambda: (time.sleep(0.3), print('thread done'))).start()\n"
            "print('main done')\n",
            id="non-daemon-thread",
        ),
        pytest.param(
            "class Noisy:\n    def __del__(self):\n        print('finalized')\n\nkeep = Noisy()\n",
            id="finalizer-of-a-global",
        ),
        pytest.param("import sys\nsys.stdout.write('no newline')\nsys.stderr.write('err')\n", id="flush"),
    ],
)
async def test_exits_like_a_fresh_interpreter(code: str, workspace_for: Any) -> None:
    request = local(code=code)
    forked, execed = await both_ways(request, workspace_for(request))
    assert outcome(forked) == outcome(execed)


async def test_exit_codes_and_messages_reach_the_task_error() -> None:
    with pytest.raises(ScriptFailure) as caught:
        await run_script(local(code="import sys; sys.exit('bye now')"), executor=FORKED)
    assert caught.value.exit_code == 1 and "bye now" in (caught.value.stderr_tail or "")
    with pytest.raises(ScriptFailure, match="killed by signal 15"):
        await run_script(local(code="import os; os.kill(os.getpid(), 15)"), executor=FORKED)
    with pytest.raises(ScriptFailure) as caught:
        await run_script(local(code="def f():\n    raise ValueError('boom')\nf()\n"), executor=FORKED)
    tail = caught.value.stderr_tail or ""
    assert tail.startswith("Traceback (most recent call last):\n  File ") and "ValueError: boom" in tail
    assert "zygote.py" not in tail and "forkserver" not in tail and "runpy" not in tail


async def test_a_file_never_closed_is_still_flushed() -> None:
    code = "import os\nf = open(os.environ['GLEITZEIT_RESULT_FILE'], 'w')\nf.write('{\"flushed\": true}')\n"
    assert (await run_script(local(code=code), executor=FORKED)).result == {"flushed": True}


async def test_a_script_file_imports_its_sibling_modules(tmp_path: Path) -> None:
    (tmp_path / "helper.py").write_text("VALUE = 'from helper'\n")
    # A sibling named like a module the zygote pre-imported shadows it, as in a fresh interpreter.
    (tmp_path / "textwrap.py").write_text("SHADOWED = True\n")
    # A directory without __init__.py is a namespace portion: the real module still wins.
    (tmp_path / "csv").mkdir()
    (tmp_path / "main.py").write_text(
        "import csv, json, helper, textwrap\n"
        "print(json.dumps([helper.VALUE, getattr(textwrap, 'SHADOWED', False), hasattr(csv, 'reader')]))\n"
    )
    for executor in (FORKED, EXECED):
        request = local(file=str(tmp_path / "main.py"))
        assert (await run_script(request, executor=executor)).result == ["from helper", True, True]


async def test_a_context_larger_than_a_pipe_buffer_arrives_whole(workspace_for: Any) -> None:
    context = {"blob": "x" * (1 << 20)}
    request = local(code="import json, sys\nprint(len(json.load(sys.stdin)['blob']))\n", context=context)
    forked, execed = await both_ways(request, workspace_for(request))
    assert outcome(forked) == outcome(execed) == (0, f"{1 << 20}\n", "")


async def test_random_differs_between_forked_children() -> None:
    code = "import json, random, uuid\nprint(json.dumps([random.random(), str(uuid.uuid4())]))\n"
    results = [(await run_script(local(code=code), executor=FORKED)).result for _ in range(3)]
    assert len({r[0] for r in results}) == 3 and len({r[1] for r in results}) == 3


async def test_twenty_concurrent_tasks_all_forked() -> None:
    code = "import json, os, sys, time\ntime.sleep(0.2)\nprint(json.dumps([os.getpid(), os.getppid(), sys.argv[1]]))\n"
    results = await asyncio.gather(
        *(run_script(local(code=code, args=[str(i)]), executor=FORKED) for i in range(20))
    )
    assert [r.result[2] for r in results] == [str(i) for i in range(20)]
    assert len({r.result[0] for r in results}) == 20
    assert {r.result[1] for r in results} == {zygote_pid()}


# ------------------------------------------------------------------------------------- isolation


async def test_the_zygote_holds_none_of_the_workers_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    shutdown_fork_servers()  # the next zygote starts while the secret is in our environment
    monkeypatch.setenv("GLEITZEIT_TEST_SECRET", "hunter2-zygote")
    result = await run_script(
        local(code="import json, os; print(json.dumps(dict(os.environ)))"), executor=FORKED
    )
    assert "GLEITZEIT_TEST_SECRET" not in result.result
    pid = zygote_pid()
    assert pid is not None
    assert b"hunter2-zygote" not in Path(f"/proc/{pid}/environ").read_bytes()
    assert b"hunter2-zygote" not in Path(f"/proc/{pid}/cmdline").read_bytes()
    environ = set(Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")) - {b""}
    assert environ == {f"{k}={v}".encode() for k, v in base_environment("/nonexistent").items()}


async def test_a_task_env_read_at_interpreter_start_falls_back_to_exec(
    caplog: pytest.LogCaptureFixture,
) -> None:
    code = "import json, os, sys; print(json.dumps([sys.flags.optimize, os.getppid()]))"
    with caplog.at_level(logging.DEBUG, logger="gleitzeit.executors"):
        result = await run_script(local(code=code, env={"PYTHONOPTIMIZE": "1"}), executor=FORKED)
    assert result.result == [1, os.getpid()]  # a fresh interpreter, started by us
    assert any("PYTHONOPTIMIZE" in r.getMessage() for r in caplog.records)
    # The base's own value changes nothing: still forked.
    same = await run_script(local(code=code, env={"LANG": "C.UTF-8"}), executor=FORKED)
    assert same.result == [0, zygote_pid()]


async def test_the_variable_turns_the_fork_server_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLEITZEIT_LOCAL_FORKSERVER", "false")
    get_settings.cache_clear()  # the environment is read once per process
    assert Settings().local_forkserver is False
    assert LocalExecutor().fork_server is False
    monkeypatch.delenv("GLEITZEIT_LOCAL_FORKSERVER")
    get_settings.cache_clear()
    assert LocalExecutor().fork_server is True


async def test_the_workers_settings_turn_the_fork_server_off() -> None:
    request = local(code="import os; print(os.getppid())")
    off = Settings(executor="local", local_forkserver=False)
    chosen = await choose_executor(request, off)
    assert isinstance(chosen, LocalExecutor) and chosen.fork_server is False
    assert (await run_script(request, off)).result == os.getpid()  # exec: started by us
    on = Settings(executor="local", local_forkserver=True)
    assert (await run_script(request, on)).result == zygote_pid() != os.getpid()


async def test_a_zygote_that_cannot_start_falls_back_to_exec(tmp_path: Path) -> None:
    # An interpreter that runs scripts but dies when asked to be a zygote.
    python = tmp_path / "python"
    python.write_text(f'#!/bin/sh\ncase "$1" in */zygote.py) exit 3;; esac\nexec {sys.executable} "$@"\n')
    python.chmod(0o755)
    executor = LocalExecutor(str(python), fork_server=True)
    for _ in range(2):  # the second task does not even try (backoff)
        result = await run_script(local(code="import os; print(os.getppid())"), executor=executor)
        assert result.result == os.getpid()


# ----------------------------------------------------------------------------- kills and failures


async def test_a_timeout_kills_a_background_child_of_a_forked_script() -> None:
    code = textwrap.dedent(
        """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(f"child-pid={child.pid}", file=sys.stderr, flush=True)
        time.sleep(600)
        """
    )
    run = await FORKED.run(request := local(code=code, timeout=1.5), ws := Workspace.create(request), None)
    ws.remove()
    assert run.timed_out
    child = int(run.stderr.text().split("child-pid=")[1].split()[0])
    assert await _gone(child)


async def test_a_zygote_killed_mid_task_fails_it_retryably_and_the_next_task_works(
    quick_heartbeats: float,
) -> None:
    code = textwrap.dedent(
        """
        import subprocess, sys, time
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
        print(f"child-pid={child.pid}", file=sys.stderr, flush=True)
        time.sleep(600)
        """
    )
    await run_script(local(code="print(1)"), executor=FORKED)  # a zygote runs
    old_zygote = zygote_pid()
    assert old_zygote is not None
    beats: list[dict[str, Any]] = []
    task = asyncio.create_task(
        run_script(local(code=code, timeout=60), heartbeat=beats.append, executor=FORKED)
    )
    await until(lambda: beats or task.done(), "the script's first heartbeat")
    script_pid = beats[0]["pid"]
    await until(lambda: _children(script_pid), "the script started its child")
    children = _children(script_pid)
    assert children
    os.kill(old_zygote, signal.SIGKILL)
    with pytest.raises(ForkServerLost) as caught:
        await asyncio.wait_for(task, 10)
    assert isinstance(caught.value, ServiceUnavailableError)
    assert "fork server" in str(caught.value) and "retried" in str(caught.value)
    for pid in [script_pid, *children]:
        assert await _gone(pid), f"process {pid} survived its zygote"
    # Temporal sees a retryable failure of a type no retry policy excludes.
    failure = await _as_temporal_failure(caught.value)
    assert failure.type == "ForkServerLost" and not failure.non_retryable
    assert failure.type not in NON_RETRYABLE_TYPES

    result = await run_script(local(code="import os; print(os.getppid())"), executor=FORKED)
    assert result.result == zygote_pid() != old_zygote


async def test_cancelling_a_forked_script_kills_its_group(quick_heartbeats: float) -> None:
    code = "import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\ntime.sleep(600)\n"
    beats: list[dict[str, Any]] = []
    task = asyncio.create_task(
        run_script(local(code=code, timeout=60), heartbeat=beats.append, executor=FORKED)
    )
    await until(lambda: beats or task.done(), "the script's first heartbeat")
    await until(lambda: _children(beats[0]["pid"]), "the script started its child")
    pids = [beats[0]["pid"], *_children(beats[0]["pid"])]
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    for pid in pids:
        assert await _gone(pid)


async def test_no_zygote_is_left_after_shutdown() -> None:
    await run_script(local(code="print(1)"), executor=FORKED)
    pid = zygote_pid()
    assert pid is not None and psutil.pid_exists(pid)
    shutdown_fork_servers()
    assert await _gone(pid)
    assert zygote_pid() is None  # a new server object, nothing started yet


def test_a_zygote_first_used_from_a_short_lived_thread_outlives_it() -> None:
    # PR_SET_PDEATHSIG follows the thread that forked the zygote, so that is never the caller's.
    shutdown_fork_servers()
    ran: list[Any] = []
    thread = threading.Thread(
        target=lambda: ran.append(asyncio.run(run_script(local(code="print(1)"), executor=FORKED)))
    )
    thread.start()
    thread.join()
    assert ran and ran[0].result == 1
    pid = zygote_pid()
    time.sleep(0.3)
    assert pid is not None and _alive(pid) and zygote_pid() == pid


def test_the_zygote_dies_with_its_worker(tmp_path: Path) -> None:
    # A worker process that starts a zygote, reports its pid and dies without any clean-up.
    worker = textwrap.dedent(
        f"""
        import asyncio, os, sys, time
        import psutil
        sys.path.insert(0, {str(Path.cwd())!r})
        from gleitzeit.config import Settings, get_settings
        from gleitzeit.executors import LocalExecutor, ScriptRequest, run_script
        from gleitzeit.executors.forkserver import fork_server
        from gleitzeit.executors.local import base_environment

        async def main():
            request = ScriptRequest.from_parameters(
                {{"code": "import time; time.sleep(600)", "executor": "local"}}, settings=Settings()
            )
            task = asyncio.create_task(run_script(request, executor=LocalExecutor(fork_server=True)))
            server = fork_server(sys.executable, base_environment("/nonexistent"))
            deadline = time.monotonic() + 30
            # Until the zygote runs and has forked the script (its child), or the task failed.
            while not (server.pid and psutil.Process(server.pid).children()) and not task.done():
                assert time.monotonic() < deadline, "the fork server did not start the script"
                await asyncio.sleep(0.02)
            if task.done():
                task.result()  # raises what failed the task
            print(server.pid, flush=True)
            os._exit(0)

        asyncio.run(main())
        """
    )
    env = {**os.environ, "GLEITZEIT_LOCAL_FORKSERVER": "true"}
    out = subprocess.run([sys.executable, "-c", worker], capture_output=True, text=True, timeout=60, env=env)
    zygote = int(out.stdout.strip())
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _alive(zygote):
        time.sleep(0.05)
    assert not _alive(zygote)


# --------------------------------------------------------------------------------------- helpers


def _children(pid: int) -> list[int]:
    try:
        return [p.pid for p in psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


async def _gone(pid: int) -> bool:
    for _ in range(50):
        if not _alive(pid):
            return True
        await asyncio.sleep(0.1)
    return False


async def _as_temporal_failure(exc: BaseException) -> ApplicationError:
    """The failure a worker reports for an activity that raised ``exc``, as the workflow sees it."""
    failure = Failure()
    await DataConverter.default.encode_failure(exc, failure)
    decoded = await DataConverter.default.decode_failure(failure)
    assert isinstance(decoded, ApplicationError)
    return decoded


def test_the_module_exports() -> None:
    assert {"ForkServerLost", "shutdown_fork_servers", "fork_server"} <= set(forkserver.__all__)


def test_both_sides_spell_the_protocol_alike() -> None:
    # The zygote imports nothing of gleitzeit (and must not be imported): read its constants.
    source = Path(forkserver.__file__).with_name("zygote.py").read_text()
    constants = {
        node.targets[0].id: ast.literal_eval(node.value)
        for node in ast.parse(source).body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id in {"_READY", "_TASK", "_TASK_FDS"}
    }
    assert constants == {"_READY": protocol.READY, "_TASK": protocol.TASK, "_TASK_FDS": protocol.TASK_FDS}
