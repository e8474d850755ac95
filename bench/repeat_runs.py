"""Row 6: repeated `gleitzeit run` of a 3-task python pipeline, as a user types it again and again.

Each run is a fresh `gleitzeit run FILE --json` process on the bench's dev server (a local address, so
the CLI starts its in-process worker when no live worker polls). From the second run on, the task
queue still lists the previous runs' exited workers as pollers: this row shows whether a run pays for
them. Measured per run: the process's wall time minus the workflow's own duration (from a worker taking
its first workflow task to its close, from its history: time spent waiting for a worker is not the
workflow's), which leaves what the user waits for beyond the work itself (interpreter start, imports,
connecting, bringing up or waiting for a worker, printing), and the pickup delay (the run's start to
its first activity's start). The yardstick, in the same run: the interpreter starting and importing what
`gleitzeit run` imports (the CLI, the dsl, the starter, the runtime, the progress display and the
in-process worker: ``RUN_IMPORTS``; ``import gleitzeit.cli`` alone no longer imports them, issue 24),
which no run can beat.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import ROOT, BenchServer, median, percentile

__all__ = ["PIPELINE", "RUN_IMPORTS", "measure_repeat_runs"]

# What `gleitzeit run FILE` imports on its way to starting the run (gleitzeit.cli.run._run), and the
# in-process worker that every run of this row starts (a run handed to a worker already polling does
# not import `gleitzeit.worker.build`: ~0.8 s less).
RUN_IMPORTS = (
    "import gleitzeit.cli, gleitzeit.cli.progress, gleitzeit.client.starter, gleitzeit.services.runtime, "
    "gleitzeit.dsl, gleitzeit.worker.build"
)

PIPELINE = """\
name: repeat bench
tasks:
  - id: a
    method: python/execute
    parameters: {code: "print(1)"}
  - id: b
    method: python/execute
    dependencies: [a]
    parameters: {code: "print(2)"}
  - id: c
    method: python/execute
    dependencies: [b]
    parameters: {code: "print(3)"}
"""


def _env(server: BenchServer, queue: str) -> dict[str, str]:
    return {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GLEITZEIT_TEMPORAL_ADDRESS": server.settings.temporal_address,
        "GLEITZEIT_UI_PORT": str(server.settings.ui_port),
        "GLEITZEIT_DATA_DIR": str(server.data_dir),
        "GLEITZEIT_TASK_QUEUE": queue,
        "GLEITZEIT_AUTO_START_LLM": "false",
        "GLEITZEIT_EXECUTOR": "local",
    }


async def _timings(client: Any, workflow_id: str) -> tuple[float, float]:
    """(the workflow's own duration: first workflow task taken to close; the run's start to its first
    activity's start), seconds, from its history."""
    from temporalio.api.enums.v1 import EventType

    started = taken = closed = first_activity = None
    async for event in client.get_workflow_handle(workflow_id).fetch_history_events():
        when = event.event_time.ToDatetime()
        if event.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_STARTED:
            started = when
        elif event.event_type == EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED and taken is None:
            taken = when
        elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_STARTED and first_activity is None:
            first_activity = when
        closed = when
    assert None not in (started, taken, closed, first_activity)
    assert started and taken and closed and first_activity  # for the type checker
    return (closed - taken).total_seconds(), (first_activity - started).total_seconds()


def _import_floor(env: dict[str, str], reps: int = 3) -> float:
    """Median seconds of ``python -c RUN_IMPORTS``: the part of every run that is start-up."""
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", RUN_IMPORTS], env=env, cwd=ROOT, check=True)
        times.append(time.perf_counter() - t0)
    return median(times)


async def measure_repeat_runs(
    server: BenchServer, *, runs: int = 10, log: Callable[[str], None] = print
) -> dict[str, Any]:
    from gleitzeit.services.connection import connect

    queue = f"bench-repeat-{uuid.uuid4().hex[:6]}"
    env = _env(server, queue)
    client = await connect(server.settings)
    overheads: list[float] = []
    pickups: list[float] = []
    graced = 0
    with tempfile.TemporaryDirectory(prefix="gleitzeit-bench-repeat-") as tmp:
        pipeline = Path(tmp) / "repeat.yaml"
        pipeline.write_text(PIPELINE)
        command = [
            sys.executable,
            "-c",
            "from gleitzeit.cli import main; main()",
            "run",
            str(pipeline),
            "--json",
        ]
        for _ in range(runs):
            t0 = time.perf_counter()
            done = await asyncio.to_thread(
                subprocess.run, command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
            )
            wall = time.perf_counter() - t0
            if done.returncode != 0:
                raise RuntimeError(f"gleitzeit run exited {done.returncode}: {done.stderr[-500:]}")
            graced += "no worker picked the run up" in done.stderr
            workflow_id = json.loads(done.stdout)["workflow_id"]
            duration, pickup = await _timings(client, workflow_id)
            overheads.append(wall - duration)
            pickups.append(pickup)
    floor = await asyncio.to_thread(_import_floor, env)
    result = {
        "runs": runs,
        "overhead_p50_s": round(median(overheads), 3),
        "overhead_p95_s": round(percentile(overheads, 95), 3),
        "pickup_p50_s": round(median(pickups), 3),
        "pickup_p95_s": round(percentile(pickups, 95), 3),
        "import_floor_s": round(floor, 3),
        "waited_grace": graced,
    }
    log(
        f"  {runs} runs: wall minus workflow p50 {result['overhead_p50_s']:.2f} s, p95 "
        f"{result['overhead_p95_s']:.2f} s; pickup p95 {result['pickup_p95_s']:.2f} s; "
        f"importing what `gleitzeit run` imports {floor:.2f} s"
    )
    return result
