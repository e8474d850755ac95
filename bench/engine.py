"""Benchmarks 1, 2 and 12 on Temporal: Gleitzeit's ``DagWorkflow`` vs the hand-written workflow.

Both run on the same dev server, in the same worker (same settings, both workflows registered), with
the worker in the client's process and eager workflow start, as ``gleitzeit run`` does. Each is
measured with two activities under the name ``python.execute``:

- ``python``: the real activity, local executor (one Python subprocess per task, like the original);
- ``noop``: an activity double that answers at once, so what is left is the engine's own overhead.

Runs of the two engines alternate, so load from other processes on the box hits both alike.
Row 12 (``measure_results_fanout``): the same fan-out with scripts returning 10 KB each, end to end
and the history's size (events, bytes) of each engine's run.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.client import Client

from bench.common import BenchServer, median, trivial_script
from bench.handwritten import HAND_WORKFLOWS, HandChain, HandFanOut, HandInput
from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.config import Settings
from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.contracts.tasks import PythonResult, TaskInput
from gleitzeit.dsl import load_workflow
from gleitzeit.services.connection import connect
from gleitzeit.worker.build import build_worker, task_activities

__all__ = [
    "KINDS",
    "chain_spec",
    "fanout_spec",
    "measure_engines",
    "measure_results_fanout",
    "noop_python",
]

KINDS = ("python", "noop")


@activity.defn(name="python.execute")
async def noop_python(inp: TaskInput) -> PythonResult:
    """Activity double of ``python.execute``: answers at once, as a script printing {"ok": 1} would."""
    return PythonResult(result={"ok": 1}, executor="double")


def _params() -> dict[str, Any]:
    return {"code": trivial_script(), "executor": "local", "timeout": 30}


def _metadata(local: bool) -> dict[str, Any]:
    return {"metadata": {"local_activities": True}} if local else {}


def chain_spec(n: int, *, local: bool = False) -> WorkflowSpec:
    tasks = [
        {
            "id": f"t{i}",
            "method": "python/execute",
            "params": _params(),
            **({"dependencies": [f"t{i - 1}"]} if i else {}),
        }
        for i in range(n)
    ]
    return load_workflow({"name": f"bench-chain-{n}", "tasks": tasks, **_metadata(local)})


def fanout_spec(n: int, cap: int, *, local: bool = False) -> WorkflowSpec:
    tasks = [{"id": f"t{i}", "method": "python/execute", "params": _params()} for i in range(n)]
    return load_workflow(
        {"name": f"bench-fanout-{n}", "max_parallel": cap, "tasks": tasks, **_metadata(local)}
    )


async def _gleitzeit(client: Client, settings: Settings, spec: WorkflowSpec) -> float:
    t0 = time.perf_counter()
    handle = await start_pipeline(client, spec, {}, settings, request_eager_start=True)
    result = await wait_result(handle)
    elapsed = time.perf_counter() - t0
    assert result.status == "completed", result.status
    return elapsed


async def _hand(client: Client, settings: Settings, run: Callable[..., Any], inp: HandInput) -> float:
    t0 = time.perf_counter()
    handle = await client.start_workflow(
        run,
        inp,
        id=f"bench-hand-{uuid.uuid4().hex[:8]}",
        task_queue=settings.task_queue,
        request_eager_start=True,
    )
    results = await handle.result()
    elapsed = time.perf_counter() - t0
    assert len(results) == inp.n
    return elapsed


ENGINES = ("gleitzeit", "gleitzeit_local", "temporal")


async def _measure_kind(
    server: BenchServer,
    kind: str,
    *,
    chain_n: int,
    chain_reps: int,
    fanout_n: int,
    fanout_reps: int,
    cap: int,
    log: Callable[[str], None],
) -> dict[str, Any]:
    settings = server.settings.model_copy(update={"task_queue": f"bench-{kind}-{uuid.uuid4().hex[:6]}"})
    client = await connect(settings)
    activities = [noop_python] if kind == "noop" else task_activities(settings)
    out: dict[str, Any] = {"chain": {e: [] for e in ENGINES}, "fanout": {e: [] for e in ENGINES}}

    def runner(shape: str, n: int) -> dict[str, Callable[[], Any]]:
        hand = HandInput(n=n, cap=cap, parameters=_params())
        if shape == "chain":
            specs = {"gleitzeit": chain_spec(n), "gleitzeit_local": chain_spec(n, local=True)}
            hand_run: Callable[..., Any] = HandChain.run
        else:
            specs = {"gleitzeit": fanout_spec(n, cap), "gleitzeit_local": fanout_spec(n, cap, local=True)}
            hand_run = HandFanOut.run
        return {
            "gleitzeit": lambda: _gleitzeit(client, settings, specs["gleitzeit"]),
            "gleitzeit_local": lambda: _gleitzeit(client, settings, specs["gleitzeit_local"]),
            "temporal": lambda: _hand(client, settings, hand_run, hand),
        }

    async with build_worker(client, settings, activities=activities, extra_workflows=HAND_WORKFLOWS):
        # Warm-up (sandbox imports, first connections): not measured.
        for warm in runner("chain", 2).values():
            await warm()
        for shape, n, reps in (("chain", chain_n, chain_reps), ("fanout", fanout_n, fanout_reps)):
            if not n:
                continue
            runs = runner(shape, n)
            for _ in range(reps):
                for engine in ENGINES:  # alternate, so load from elsewhere hits every engine alike
                    out[shape][engine].append(await runs[engine]())
            log(
                f"  {shape} of {n} ({kind}): "
                + ", ".join(f"{e} {median(out[shape][e]):.3f} s" for e in ENGINES)
            )
    return out


async def measure_engines(
    server: BenchServer,
    *,
    chain_n: int = 20,
    chain_reps: int = 5,
    fanout_n: dict[str, int] | None = None,
    fanout_reps: int = 1,
    cap: int = 50,
    kinds: tuple[str, ...] = KINDS,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """{"chain": {engine: {kind: {...}}}, "fanout": {engine: {kind: {...}}}} for the engines gleitzeit,
    gleitzeit_local (opt-in local activities) and temporal (hand-written). ``fanout_n`` per kind
    (0 skips)."""
    sizes = fanout_n or {"python": 1000, "noop": 1000}
    result: dict[str, Any] = {"chain": {e: {} for e in ENGINES}, "fanout": {e: {} for e in ENGINES}}
    for kind in kinds:
        raw = await _measure_kind(
            server,
            kind,
            chain_n=chain_n,
            chain_reps=chain_reps,
            fanout_n=sizes.get(kind, 0),
            fanout_reps=fanout_reps,
            cap=cap,
            log=log,
        )
        for engine in ENGINES:
            runs = raw["chain"][engine]
            result["chain"][engine][kind] = {
                "n": chain_n,
                "runs_s": [round(r, 4) for r in runs],
                "median_s": median(runs),
                "per_step_ms": median(runs) / chain_n * 1000,
            }
            runs = raw["fanout"][engine]
            if runs:
                n = sizes[kind]
                result["fanout"][engine][kind] = {
                    "n": n,
                    "cap": cap,
                    "runs_s": [round(r, 3) for r in runs],
                    "median_s": median(runs),
                    "tasks_per_s": n / median(runs),
                }
    return result


def _result_params(kb: int) -> dict[str, Any]:
    """A script whose result is ``kb`` KB of JSON (stdout parsed as JSON, as a real script's)."""
    code = f"import json\nprint(json.dumps({{'data': 'x' * {kb * 1024}}}))\n"
    return {"code": code, "executor": "local", "timeout": 30}


async def _history_size(client: Client, workflow_id: str) -> dict[str, int]:
    history = await client.get_workflow_handle(workflow_id).fetch_history()
    return {"events": len(history.events), "bytes": sum(e.ByteSize() for e in history.events)}


async def measure_results_fanout(
    server: BenchServer,
    *,
    n: int = 1000,
    cap: int = 50,
    kb: int = 10,
    reps: int = 3,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Row 12: a fan-out of ``n`` python tasks (``max_parallel: cap``), each returning ``kb`` KB:
    Gleitzeit vs the hand-written fan-out with the same activity, alternating; end-to-end seconds
    (median) and the history's events and bytes of the last run of each."""
    settings = server.settings.model_copy(update={"task_queue": f"bench-results-{uuid.uuid4().hex[:6]}"})
    client = await connect(settings)
    params = _result_params(kb)
    spec = load_workflow(
        {
            "name": f"bench-results-{n}",
            "max_parallel": cap,
            "tasks": [{"id": f"t{i}", "method": "python/execute", "params": params} for i in range(n)],
        }
    )
    hand = HandInput(n=n, cap=cap, parameters=params, keep_results=False)
    times: dict[str, list[float]] = {"gleitzeit": [], "temporal": []}
    history: dict[str, dict[str, int]] = {}

    async def gleitzeit() -> None:
        t0 = time.perf_counter()
        handle = await start_pipeline(client, spec, {}, settings, request_eager_start=True)
        result = await wait_result(handle)
        times["gleitzeit"].append(time.perf_counter() - t0)
        assert result.status == "completed" and len(result.results) == n, result.status
        history["gleitzeit"] = await _history_size(client, handle.id)

    async def temporal() -> None:
        workflow_id = f"bench-hand-results-{uuid.uuid4().hex[:8]}"
        t0 = time.perf_counter()
        handle = await client.start_workflow(
            HandFanOut.run, hand, id=workflow_id, task_queue=settings.task_queue, request_eager_start=True
        )
        assert len(await handle.result()) == n
        times["temporal"].append(time.perf_counter() - t0)
        history["temporal"] = await _history_size(client, workflow_id)

    async with build_worker(
        client, settings, activities=task_activities(settings), extra_workflows=HAND_WORKFLOWS
    ):
        await _gleitzeit(client, settings, chain_spec(2))  # warm-up, not measured
        for _ in range(reps):
            await gleitzeit()
            await temporal()
    out: dict[str, Any] = {"n": n, "cap": cap, "kb": kb, "reps": reps}
    for engine, runs in times.items():
        out[engine] = {"runs_s": [round(r, 2) for r in runs], "median_s": median(runs), **history[engine]}
    out["time_ratio"] = out["gleitzeit"]["median_s"] / out["temporal"]["median_s"]
    out["bytes_ratio"] = out["gleitzeit"]["bytes"] / out["temporal"]["bytes"]
    out["events_ratio"] = out["gleitzeit"]["events"] / out["temporal"]["events"]
    log(
        f"  fan-out of {n} x {kb} KB results: gleitzeit {out['gleitzeit']['median_s']:.1f} s, "
        f"hand-written {out['temporal']['median_s']:.1f} s ({out['time_ratio']:.2f}x); history "
        f"{out['gleitzeit']['events']} / {out['temporal']['events']} events, "
        f"{out['gleitzeit']['bytes'] / 1e6:.1f} / {out['temporal']['bytes'] / 1e6:.1f} MB"
    )
    return out


async def measure_metrics_cost(
    server: BenchServer, *, chain_n: int = 20, reps: int = 5, log: Callable[[str], None] = print
) -> dict[str, Any]:
    """The python chain's ms per step with the metrics interceptor on and off, alternating in one run."""
    runs: dict[str, list[float]] = {"on": [], "off": []}
    settings = {
        mode: server.settings.model_copy(
            update={"task_queue": f"bench-metrics-{mode}-{uuid.uuid4().hex[:6]}"}
        )
        for mode in runs
    }
    client = await connect(server.settings)
    spec = chain_spec(chain_n)
    on = build_worker(client, settings["on"], activities=task_activities(settings["on"]))
    off = build_worker(client, settings["off"], activities=task_activities(settings["off"]), metrics=False)
    async with on, off:
        for mode in runs:  # warm-up, not measured
            await _gleitzeit(client, settings[mode], chain_spec(2))
        for _ in range(reps):
            for mode in runs:
                runs[mode].append(await _gleitzeit(client, settings[mode], spec))
    result = {
        mode: {"n": chain_n, "runs_s": [round(r, 4) for r in v], "per_step_ms": median(v) / chain_n * 1000}
        for mode, v in runs.items()
    }
    log(
        f"  metrics cost, chain of {chain_n} python tasks: on {result['on']['per_step_ms']:.1f} ms/step, "
        f"off {result['off']['per_step_ms']:.1f} ms/step"
    )
    return result


if __name__ == "__main__":  # a quick look: python -m bench.engine [results [N]] (row 12 alone)
    import json
    import os
    import sys

    from bench.common import bench_server

    with bench_server() as srv:
        if sys.argv[1:2] == ["results"]:
            n = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
            print(json.dumps(asyncio.run(measure_results_fanout(srv, n=n)), indent=2))
        else:
            print(asyncio.run(measure_engines(srv, chain_reps=3, fanout_n={"python": 200, "noop": 1000})))
    sys.stdout.flush()
    os._exit(0)  # a process that ran a Temporal worker can crash at interpreter exit (FACTS.md)
