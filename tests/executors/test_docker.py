"""The Docker sandbox against hostile scripts: each ends in a clear task error and leaves no container.

Needs the engine and the sandbox image (scripts/setup_docker.sh, scripts/build_sandbox_image.sh);
CI runs these, never skips them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from typing import Any

import docker
import pytest
from temporalio.exceptions import CancelledError
from temporalio.testing import ActivityEnvironment

from gleitzeit.activities.python import PythonActivities
from gleitzeit.config import Settings
from gleitzeit.contracts.tasks import PythonResult, TaskInput
from gleitzeit.executors import (
    ScriptBadOutput,
    ScriptFailure,
    ScriptOOM,
    ScriptRequest,
    ScriptTimeout,
    run_script,
)
from gleitzeit.executors.sandbox import container_labels, container_name
from tests.executors import scripts
from tests.fixtures.docker import containers_with_label
from tests.helpers import until

pytestmark = pytest.mark.docker

SETTINGS = Settings(executor="docker")

NETWORK_PROBE = """
import socket, sys
targets = [("172.17.0.1", 80), ("10.0.0.1", 80), ("192.0.2.1", 443)]
for host, port in targets:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        print(f"connect {host}:{port} refused: {exc}", file=sys.stderr)
    else:
        print(f"connected to {host}:{port}")
        sys.exit(0)
sys.exit("no network: every connection failed")
"""

# A fork bomb that stops by itself: children sleep instead of forking on, so the limit is what ends it.
FORK_BOMB = """
import os, sys, time
children = 0
try:
    while children < 10_000:
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        children += 1
except OSError as exc:
    sys.exit(f"fork failed after {children} children: {exc}")
print("forked", children)
"""

MEMORY_HOG = """
chunks = []
while True:
    chunks.append(bytearray(16 * 1024 * 1024))
"""

ENDLESS_LOOP = "while True:\n    pass\n"

WRITE_OUTSIDE_TMP = """
import sys
refused = []
for path in ["/etc/passwd", "/gleitzeit/in/context.json", "/gleitzeit/out/extra.txt", "/usr/evil.py",
             "/root/x", "/evil"]:
    try:
        with open(path, "a") as f:
            f.write("owned")
    except OSError as exc:
        refused.append(f"{path}: {exc.strerror}")
    else:
        print(f"wrote {path}")
        sys.exit(0)
with open("/tmp/scratch.txt", "w") as f:
    f.write("tmp is fine")
sys.exit("every write outside /tmp refused: " + "; ".join(refused))
"""

SECRET = f"gz-test-secret-{uuid.uuid4().hex}"
FIND_SECRET = """
import os, sys
places = [str(dict(os.environ))]
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            places.append(open(f"/proc/{pid}/environ", "rb").read().decode(errors="replace"))
        except OSError:
            pass
if any("gz-test-secret-" in text for text in places):
    print("found the worker's secret")
    sys.exit(0)
sys.exit(f"no secret visible in {len(places)} places")
"""

HAPPY = """
import json, os, sys
ctx = json.load(sys.stdin)
with open("/tmp/work.txt", "w") as f:
    f.write("scratch")
print("uid", os.getuid())
print(json.dumps({"sum": ctx["a"] + ctx["b"], "argv": sys.argv[1:], "uid": os.getuid(),
                  "file_ctx": json.load(open(os.environ["GLEITZEIT_CONTEXT_FILE"]))}))
"""


@pytest.fixture
def identity(docker_image: str, unique_task_id: str) -> Iterator[dict[str, Any]]:
    """A fresh workflow/task identity; after the test, no container with its task label may remain."""
    ident = {"task_id": unique_task_id, "workflow_id": f"wf-{uuid.uuid4().hex[:8]}", "run_id": "run-1"}
    yield ident
    assert containers_with_label("gleitzeit.task_id", unique_task_id) == []


def sandboxed(identity: dict[str, Any], code: str, attempt: int = 1, **parameters: Any) -> ScriptRequest:
    parameters.setdefault("executor", "docker")
    parameters.setdefault("timeout", 20)
    return ScriptRequest.from_parameters(
        {"code": code, **parameters}, settings=SETTINGS, attempt=attempt, **identity
    )


async def test_happy_path_context_in_json_out(identity: dict[str, Any]) -> None:
    result = await run_script(sandboxed(identity, HAPPY, context={"a": 2}, args={"b": 3}))
    assert isinstance(result, PythonResult)
    assert result.executor == "docker"
    assert result.result["sum"] == 5
    assert result.result["file_ctx"] == {"a": 2, "b": 3}
    assert result.result["uid"] == 65534
    assert result.output == "uid 65534"


async def test_the_batch_file_in_the_context_is_readable_and_only_it(
    identity: dict[str, Any], tmp_path: Any
) -> None:
    doc = tmp_path / "doc.txt"
    doc.write_text("batch input")
    (tmp_path / "secret.txt").write_text("not for the script")
    code = (
        "import json, os, sys\n"
        "ctx = json.load(sys.stdin)\n"
        "print(json.dumps({'text': open(ctx['file_path']).read(),"
        " 'sibling': os.path.exists(os.path.join(os.path.dirname(ctx['file_path']), 'secret.txt'))}))\n"
    )
    result = await run_script(sandboxed(identity, code, context={"file_path": str(doc)}))
    assert result.result == {"text": "batch input", "sibling": False}


async def test_argv_and_the_result_file(identity: dict[str, Any]) -> None:
    result = await run_script(sandboxed(identity, scripts.ECHO_CONTEXT, args=["one", 2]))
    assert result.result["argv"] == ["one", "2"]
    result = await run_script(sandboxed(identity, scripts.RESULT_FILE, attempt=2))
    assert result.result == {"via": "result file", "n": 3}


async def test_no_network_unless_asked(identity: dict[str, Any]) -> None:
    with pytest.raises(ScriptFailure) as caught:
        await run_script(sandboxed(identity, NETWORK_PROBE))
    assert caught.value.kind == "ScriptError"
    assert "no network" in (caught.value.stderr_tail or "")
    # network: true gives the container an interface besides loopback.
    code = "import json, os; print(json.dumps(sorted(os.listdir('/sys/class/net'))))"
    assert (await run_script(sandboxed(identity, code, attempt=2))).result == ["lo"]
    assert "eth0" in (await run_script(sandboxed(identity, code, attempt=3, network=True))).result


async def test_a_fork_bomb_hits_the_pids_limit(identity: dict[str, Any]) -> None:
    with pytest.raises(ScriptFailure) as caught:
        await run_script(sandboxed(identity, FORK_BOMB, timeout=30))
    assert caught.value.kind == "ScriptError"
    assert "fork failed after" in (caught.value.stderr_tail or "")


async def test_a_memory_hog_is_killed_as_out_of_memory(identity: dict[str, Any]) -> None:
    with pytest.raises(ScriptOOM) as caught:
        await run_script(sandboxed(identity, MEMORY_HOG, memory="64m"))
    assert caught.value.kind == "ScriptOOM" and caught.value.executor == "docker"


async def test_an_endless_loop_times_out_and_its_container_is_removed(identity: dict[str, Any]) -> None:
    started = time.monotonic()
    with pytest.raises(ScriptTimeout):
        await run_script(sandboxed(identity, ENDLESS_LOOP, timeout=2))
    assert time.monotonic() - started < 30


async def test_writes_outside_tmp_are_refused(identity: dict[str, Any]) -> None:
    with pytest.raises(ScriptFailure) as caught:
        await run_script(sandboxed(identity, WRITE_OUTSIDE_TMP))
    tail = caught.value.stderr_tail or ""
    assert caught.value.kind == "ScriptError"
    assert "every write outside /tmp refused" in tail
    assert "Read-only file system" in tail


async def test_the_workers_secrets_do_not_reach_the_script(
    identity: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLEITZEIT_TEST_SECRET", SECRET)
    with pytest.raises(ScriptFailure) as caught:
        await run_script(sandboxed(identity, FIND_SECRET))
    assert "no secret visible" in (caught.value.stderr_tail or "")
    assert SECRET not in str(caught.value)


async def test_a_huge_stdout_is_bounded(identity: dict[str, Any]) -> None:
    result = await run_script(sandboxed(identity, scripts.huge_stdout(16, final_json=True), timeout=60))
    assert result.result == {"lines": 16 * 1024}
    assert "bytes truncated by gleitzeit" in result.output
    assert len(result.model_dump_json()) < SETTINGS.max_result_bytes + 10_000
    with pytest.raises(ScriptBadOutput, match="too large to be the result"):
        await run_script(sandboxed(identity, scripts.huge_stdout(4, final_json=False), attempt=2, timeout=60))


async def test_the_next_attempt_removes_the_orphan_of_a_crashed_one(
    identity: dict[str, Any], docker_image: str
) -> None:
    # What a worker killed mid-script leaves behind: attempt 1's container, still running.
    crashed = sandboxed(identity, "pass", attempt=1)
    client = docker.from_env()
    orphan = client.containers.run(
        docker_image,
        ["sleep", "300"],
        name=container_name(crashed),
        labels=container_labels(crashed),
        detach=True,
        network_mode="none",
    )
    try:
        assert [c["Names"] for c in containers_with_label("gleitzeit.task_id", identity["task_id"])] == [
            orphan.name
        ]
        result = await run_script(sandboxed(identity, "print('[\"attempt 2\"]')", attempt=2))
        assert result.result == ["attempt 2"]
        assert containers_with_label("gleitzeit.task_id", identity["task_id"]) == []
    finally:
        try:
            orphan.remove(force=True)
        except docker.errors.NotFound:
            pass
        client.close()


async def test_auto_uses_docker_when_the_engine_answers(identity: dict[str, Any]) -> None:
    result = await run_script(sandboxed(identity, "print(1)", executor="auto"))
    assert result.executor == "docker"


async def test_cancelling_the_activity_removes_the_container(
    identity: dict[str, Any], quick_heartbeats: float
) -> None:
    env = ActivityEnvironment()
    beats: list[Any] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    inp = TaskInput(
        workflow_id=identity["workflow_id"],
        run_id=identity["run_id"],
        task_id=identity["task_id"],
        method="python/execute",
        parameters={"code": scripts.SLEEP_FOREVER, "executor": "docker", "timeout": 60},
    )
    running = asyncio.create_task(env.run(PythonActivities(SETTINGS).execute, inp))
    await until(lambda: beats or running.done(), "the activity's first heartbeat")
    assert beats[0][0]["executor"] == "docker"
    assert [c["Names"] for c in containers_with_label("gleitzeit.task_id", identity["task_id"])] == [
        beats[0][0]["container"]
    ]
    env.cancel()
    with pytest.raises((CancelledError, asyncio.CancelledError)):
        await running
