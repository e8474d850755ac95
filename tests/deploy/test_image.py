"""The gleitzeit image: built from the offline base, its worker container runs a pipeline.

The worker container runs hardened as in docker-compose.yml (read-only root, no capabilities, no
new privileges, non-root) with the host's network, against a dev server this test starts on the host;
the pipeline is started from the host with `gleitzeit run --worker never`, so only the container
can have executed it. Its scripts report the user and interpreter they ran with: the image's.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from gleitzeit.services.connection import connect
from tests.deploy.conftest import DevServer, settings_for
from tests.deploy.workers import python_pipeline, wait_for_pollers
from tests.helpers import IN_CI, require, venv_binary

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.temporal]

ROOT = Path(__file__).resolve().parents[2]
IMAGE = os.environ.get("GLEITZEIT_TEST_IMAGE", "gleitzeit:test")
IMAGE_UID = 10001


def _docker_answers() -> bool:
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=20).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@pytest.fixture(scope="module")
def gleitzeit_image() -> str:
    """The image, built by deploy/build_image.sh (cached: nothing is rebuilt while its recipe is unchanged)."""
    require(_docker_answers(), "a Docker engine", "run scripts/setup_docker.sh as root")
    base_exists = subprocess.run(
        ["docker", "image", "inspect", "gleitzeit-base:bookworm"], capture_output=True
    )
    require(
        base_exists.returncode == 0 or os.geteuid() == 0 or IN_CI,
        "the offline base image gleitzeit-base:bookworm",
        "build it as root: deploy/build_base_image.sh",
    )
    build = subprocess.run(
        [str(ROOT / "deploy" / "build_image.sh"), "--tag", IMAGE],
        capture_output=True,
        text=True,
        timeout=540,
        env={**os.environ, "PYTHON": str(Path(venv_binary("python") or "python3"))},
    )
    assert build.returncode == 0, f"deploy/build_image.sh failed:\n{build.stderr[-4000:]}"
    return IMAGE


@contextlib.contextmanager
def _worker_container(image: str, server: DevServer, *extra: str) -> Iterator[tuple[str, str]]:
    """A hardened worker container (as in docker-compose.yml) on a fresh task queue: (name, queue)."""
    queue = f"image-{uuid.uuid4().hex[:8]}"
    name = f"gz-test-worker-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [
            "docker", "run", "-d", "--name", name, "--network", "host",
            "--read-only", "--tmpfs", "/tmp:rw,nosuid,nodev,size=64m",
            "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
            "-e", f"GLEITZEIT_TEMPORAL_ADDRESS={server.address}",
            "-e", f"GLEITZEIT_TASK_QUEUE={queue}",
            "-e", "GLEITZEIT_EXECUTOR=local",
            *extra,
            image, "worker",
        ],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    try:
        yield name, queue
    finally:
        subprocess.run(["docker", "stop", "-t", "15", name], capture_output=True, timeout=60)
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, timeout=60)


def _logs(name: str) -> str:
    out = subprocess.run(["docker", "logs", name], capture_output=True, text=True, timeout=30)
    return out.stdout + out.stderr


class _Container:
    """Stands in for a process in wait_for_pollers: 'exited' when the container stopped."""

    pid = 0

    def __init__(self, name: str) -> None:
        self.name = name

    def poll(self) -> int | None:
        state = subprocess.run(
            ["docker", "inspect", "-f", "{{.State.Running}}", self.name], capture_output=True, text=True
        ).stdout.strip()
        return None if state == "true" else 1


async def _run_in_container(
    name: str, queue: str, server: DevServer, tmp_path: Path, executor: str
) -> dict[str, Any]:
    """Start a 3-task pipeline from the host (`gleitzeit run --worker never`); its JSON result."""
    client = await connect(settings_for(server, queue))
    try:
        await wait_for_pollers(client, queue, 1, [_Container(name)])  # type: ignore[list-item]
    except AssertionError as exc:
        raise AssertionError(f"{exc}\ncontainer logs:\n{_logs(name)[-3000:]}") from None
    spec = python_pipeline(f"in-container-{executor}", 3, sleep=0.0)
    for task in spec["tasks"]:  # type: ignore[attr-defined]
        task["parameters"]["executor"] = executor
    pipeline = tmp_path / f"in_container_{executor}.yaml"
    pipeline.write_text(yaml.safe_dump(spec))
    gleitzeit = venv_binary("gleitzeit")
    assert gleitzeit is not None
    run = subprocess.run(
        [gleitzeit, "run", str(pipeline), "--worker", "never", "--json"],
        capture_output=True,
        text=True,
        timeout=120,
        env={
            **os.environ,
            "GLEITZEIT_TEMPORAL_ADDRESS": server.address,
            "GLEITZEIT_TASK_QUEUE": queue,
            "GLEITZEIT_AUTO_START_TEMPORAL": "false",
        },
    )
    assert run.returncode == 0, (
        f"gleitzeit run failed:\n{run.stderr[-3000:]}\ncontainer:\n{_logs(name)[-3000:]}"
    )
    result: dict[str, Any] = json.loads(run.stdout)
    assert result["status"] == "completed"
    assert len(result["results"]) == 3
    assert f"worker polling task queue {queue}" in " ".join(_logs(name).split())
    return result


@pytest.mark.timeout(600)  # the first build of the image (base + wheelhouse) takes a few minutes
async def test_worker_container_runs_a_pipeline(
    gleitzeit_image: str, dev_server: DevServer, tmp_path: Path
) -> None:
    with _worker_container(gleitzeit_image, dev_server) as (name, queue):
        result = await _run_in_container(name, queue, dev_server, tmp_path, "local")
    for task_id, task in result["results"].items():
        # Only the container has this user and this interpreter: the container ran the task.
        assert task["result"]["uid"] == IMAGE_UID, (task_id, task)
        assert task["result"]["python"].startswith("/opt/gleitzeit/"), (task_id, task)
        assert task["executor"] == "local"


async def test_worker_container_with_engine_socket_runs_sandboxed_scripts(
    gleitzeit_image: str, docker_image: str, dev_server: DevServer, tmp_path: Path
) -> None:
    """The alternative of deploy/compose.docker-socket.yml: the worker starts one sandbox per script."""
    require(
        os.geteuid() == 0, "root (to hand the scripts folder to the image's user)", "run the tests as root"
    )
    scripts_dir = Path(tempfile.mkdtemp(prefix="gleitzeit-scripts-", dir="/var/tmp"))
    os.chown(scripts_dir, IMAGE_UID, IMAGE_UID)
    socket_gid = os.stat("/var/run/docker.sock").st_gid
    try:
        with _worker_container(
            gleitzeit_image, dev_server,
            "-e", "GLEITZEIT_EXECUTOR=docker", "-e", f"GLEITZEIT_SANDBOX_IMAGE={docker_image}",
            "-e", f"TMPDIR={scripts_dir}", "--group-add", str(socket_gid),
            "-v", "/var/run/docker.sock:/var/run/docker.sock", "-v", f"{scripts_dir}:{scripts_dir}",
        ) as (name, queue):  # fmt: skip
            result = await _run_in_container(name, queue, dev_server, tmp_path, "docker")
    finally:
        shutil.rmtree(scripts_dir, ignore_errors=True)
    for task_id, task in result["results"].items():
        assert task["executor"] == "docker", (task_id, task)
        assert task["result"]["host"] == "sandbox", (task_id, task)  # the sandbox's own hostname
        assert task["result"]["uid"] == 65534, (task_id, task)
