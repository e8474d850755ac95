"""A batch survives its worker being SIGKILLed: nothing written is lost, no finished file is redone.

Real pieces: the Temporal dev server, ``gleitzeit worker`` in a process of its own (killed with
SIGKILL: no clean-up runs), the real batch activities, and OllamaDouble recording every request with
its X-Request-Id (``workflow/file/attempt``). About a third of the files are done when the worker
dies; a second worker finishes the batch. The output folder must then hold exactly the expected files
with the right content, every file finished before the kill asked the model exactly once, and a file
in flight at the kill at most twice.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from gleitzeit.client.batch import start_batch, wait_batch
from gleitzeit.config import Settings
from gleitzeit.contracts.batch import BatchInput
from tests.batch.harness import make_tree
from tests.doubles.ollama_double import OllamaDouble
from tests.helpers import require, venv_binary

pytestmark = [pytest.mark.temporal, pytest.mark.slow, pytest.mark.timeout(180)]

FILES = 200
PROMPT = "Summarize."


class WorkerProcess:
    """``gleitzeit worker`` in a session of its own, so SIGKILL takes it down like a crash."""

    def __init__(self, binary: str, env: dict[str, str], task_queue: str, log: Path) -> None:
        self._log = open(log, "ab")  # noqa: SIM115 - closed in kill()
        self.proc = subprocess.Popen(
            [binary, "worker", "--task-queue", task_queue],
            env=env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._log.close()


@pytest.fixture
def workers() -> Iterator[list[WorkerProcess]]:
    started: list[WorkerProcess] = []
    yield started
    for w in started:
        w.kill()


def done_files(out: Path) -> set[str]:
    return {p.name[: -len(".json")] for p in out.glob("*.json")}


async def test_a_killed_worker_loses_nothing_and_redoes_no_finished_file(
    local_env: WorkflowEnvironment, workers: list[WorkerProcess], tmp_path: Path
) -> None:
    binary = venv_binary("gleitzeit")
    require(binary is not None, "the gleitzeit console script", "pip install -e .")
    assert binary is not None
    names = make_tree(tmp_path / "in", FILES)
    out = tmp_path / "out"
    queue = f"batch-crash-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "worker.log"
    # ~100 ms per request and 6 at a time: ~60 files/s, so the kill lands mid-batch.
    async with OllamaDouble(latency_ms=100) as double:
        env = {
            **os.environ,
            "GLEITZEIT_TEMPORAL_ADDRESS": local_env.client.service_client.config.target_host,
            "GLEITZEIT_TASK_QUEUE": queue,
            "GLEITZEIT_AUTO_START_TEMPORAL": "false",
            "GLEITZEIT_AUTO_START_LLM": "false",
            "GLEITZEIT_DATA_DIR": str(tmp_path / "data"),
            "OLLAMA_HOST": double.url,
        }
        settings = Settings(task_queue=queue, data_dir=tmp_path / "data", ollama_host=double.url)
        inp = BatchInput(
            directory=str(tmp_path / "in"),
            parameters={"model": "smollm2:135m", "prompt": PROMPT},
            max_concurrent=6,
            output_dir=str(out),
            heartbeat_timeout=6,  # the dead worker's attempts are retried after 6 s, not 30
            files_per_run=80,  # and the crash lands in a continued-as-new run or close to one
        )
        workers.append(WorkerProcess(binary, env, queue, log))
        handle = await start_batch(local_env.client, inp, settings)

        deadline = time.monotonic() + 60
        while not out.exists() or len(done_files(out)) < FILES // 3:
            assert time.monotonic() < deadline, f"the batch did not get going (worker log: {log})"
            await asyncio.sleep(0.05)
        workers[0].kill()
        finished_before_kill = done_files(out)
        assert FILES // 3 <= len(finished_before_kill) < FILES, "the kill should land mid-batch"

        workers.append(WorkerProcess(binary, env, queue, log))
        result = await asyncio.wait_for(wait_batch(handle), timeout=120)
        requests = double.calls("/api/chat")

    assert (result.total, result.completed, result.failed) == (FILES, FILES, 0), result.errors
    assert sorted(p.name for p in out.iterdir()) == sorted([*(f"{n}.json" for n in names), ".gleitzeit"])
    for name in names:
        doc = json.loads((out / f"{name}.json").read_text())
        assert doc["file"] == name
        assert doc["result"]["response"] == f"echo: content of {name}\n\n{PROMPT}"

    prefix = f"{handle.id}/"
    per_file = Counter(
        r.request_id[len(prefix) :].rsplit("/", 1)[0]
        for r in requests
        if r.request_id and r.request_id.startswith(prefix)
    )
    assert set(per_file) == set(names)
    assert {n: per_file[n] for n in finished_before_kill} == {n: 1 for n in finished_before_kill}
    redone = {n: c for n, c in per_file.items() if c > 1}
    assert max(per_file.values()) <= 2 and len(redone) <= inp.max_concurrent, redone
    print(
        f"\nkilled after {len(finished_before_kill)}/{FILES} files; {len(redone)} in-flight files asked twice; "
        f"{result.skipped_existing} found done on retry; {result.runs} runs"
    )
