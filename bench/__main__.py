"""``python -m bench [--quick] [--json FILE]``: every benchmark side by side in one run, as a table.

1. a chain of 20 trivial python tasks end to end: Gleitzeit, a hand-written Temporal workflow (same
   activity, server and worker), the original Gleitzeit 0.0.5 (its own venv, not durable);
2. a fan-out of trivial tasks: tasks per second, same three;
3. durable ``client.chat()`` vs a direct ``ollama`` call to the same (fixed-latency) LLM double;
4. ``batch_process`` over many files against a fixed-latency double vs the ideal wall time
   (10,000 files; ``--scale``: 100,000, and only rows 4, 4b and 5);
4b. the same kind of batch on two ``gleitzeit worker`` processes vs one, each worker's cap the limit;
5. the worker's peak memory during 4;
6. ``gleitzeit test``: 100 cases of a 5-task pipeline in one invocation (wall and per-case time);
7. repeated `gleitzeit run` of a 3-task python pipeline: wall time minus the workflow's own duration;
8. ``POST /v1/chat/completions`` on ``gleitzeit serve`` vs a direct call to the same double (p50/p95,
   the hand-written floor beside it), and 200 concurrent requests through it vs direct;
9. CLI start: ``gleitzeit --help`` and ``gleitzeit validate`` of a 5-task file vs
   ``python -c "import yaml, pydantic"`` (bench/cli_start.py);
10. a fan-out of 200 chat tasks over two LLM hosts (a pool) vs one: throughput ratio;
11. real LLM throughput: 64 short SmolLM2 chats through a pipeline vs a hand-written Temporal workflow
    vs sent directly to the embedded server vs xllamacpp's own server, aggregate tokens/s
    (bench/llm_throughput.py);
12. a fan-out of 1,000 python tasks (max_parallel 50) returning 10 KB each: end-to-end time and history
    size vs the hand-written workflow running the same activity;
plus the embedded LLM server's tokens/s vs the same model in-process (bench/llm_server.py).

Figures are measured on whatever else the machine is doing: compare ratios, not absolute times.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

__all__ = ["Config", "main", "run_all"]


@dataclass(frozen=True)
class Config:
    chain_n: int = 20
    chain_reps: int = 5
    fanout_python: int = 1000
    fanout_noop: int = 1000
    fanout_reps: int = 3  # the median of three: one fan-out run on a shared machine is noisy
    cap: int = 50
    original: bool = True
    chat_calls: int = 200
    chat_latency_ms: float = 5.0
    compat_calls: int = 100
    compat_concurrent: int = 200
    batch_items: int = 10_000
    batch_latency_ms: float = 100.0
    batch_concurrent: int = 20
    # Row 4b: 16 activities per worker (each chunk then runs one file at a time: 2 x 16 <= MAX_LANES),
    # the batch and the double allowing 32; 200 ms calls, so that two workers need 160 files/s, well
    # within what the engine does on 2 busy cores (~170/s in row 4): the workers' cap is the limit.
    batch_workers_items: int = 10_000
    batch_workers_latency_ms: float = 200.0
    batch_per_worker: int = 16
    scale: bool = False  # rows 4, 4b and 5 only (``--scale``)
    repeat_runs: int = 10  # ~15-25 s: in the quick run too
    llm_server: bool = True
    quick_llm: bool = False
    pipeline_test_cases: int = 100
    cli_start_rounds: int = 10  # 3 fresh interpreters a round, ~1-2 s a round
    # 200 chats of 500 ms, 3 at once per host: ~33 s on one host, ~17 s ideal on two. Long calls on
    # purpose, so that the hosts' concurrency is the limit, not the engine's tasks per second on a
    # loaded 2-core machine (250 ms and 4 per host measured 1.2x: Temporal, not the hosts, was the limit).
    pool_tasks: int = 200
    pool_latency_ms: float = 500.0
    pool_per_host: int = 3
    # 11: real chats on the embedded LLM server (skipped with llm_server=False); rounds rotate the order.
    llm_chats: int = 64
    llm_rounds: int = 2
    # Row 12: 1,000 tasks returning 10 KB each, alternating with the hand-written fan-out.
    results_tasks: int = 1000
    results_kb: int = 10
    results_reps: int = 3


FULL = Config()
# ``--scale``: 100,000 files in row 4 (~500 s ideal, and as long again for its direct yardstick).
SCALE = Config(batch_items=100_000, scale=True, cli_start_rounds=0)
QUICK = Config(
    chain_reps=3,
    fanout_python=200,
    fanout_reps=1,
    chat_calls=40,
    compat_calls=30,
    quick_llm=True,
    batch_workers_items=5_000,  # row 4b: ~1 + ~0.5 minutes (10,000 in the full and --scale runs)
    cli_start_rounds=5,
    pool_tasks=100,
    llm_chats=16,
    results_tasks=200,
    results_reps=1,
)


def _guard(name: str, log: Callable[[str], None], fn: Callable[[], Any]) -> Any:
    """Run one benchmark; a failure becomes {"error": ...} in the results, never a crash of the run."""
    started = time.monotonic()
    try:
        result = fn()
    except SystemExit as exc:  # bench.llm_server says "cannot benchmark" this way
        result = {"available": False, "reason": str(exc.code)}
    except Exception as exc:
        log(f"  {name} failed: {exc}")
        if os.environ.get("GLEITZEIT_BENCH_DEBUG"):
            traceback.print_exc()
        result = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    if isinstance(result, dict):
        result.setdefault("seconds", round(time.monotonic() - started, 1))
    return result


def run_all(cfg: Config, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every benchmark of ``cfg``; returns the results dict (what --json writes)."""
    from bench.client_bench import measure_chat
    from bench.common import bench_server
    from bench.compat_bench import measure_compat
    from bench.engine import measure_engines, measure_metrics_cost, measure_results_fanout
    from bench.pool_bench import measure_pool
    from bench.repeat_runs import measure_repeat_runs

    results: dict[str, Any] = {
        "config": asdict(cfg),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "load": _load()},
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
    }
    if cfg.cli_start_rounds:
        from bench.cli_start import measure_cli_start

        # First, before the dev server and workers load the machine: interpreters starting.
        log("CLI start (9): gleitzeit --help and validate vs python -c 'import yaml, pydantic'")
        results["cli_start"] = _guard("cli_start", log, lambda: measure_cli_start(cfg.cli_start_rounds, log))
    if cfg.scale:
        with bench_server() as server:
            _batch_rows(cfg, server, results, log)
        results["machine"]["load_after"] = _load()
        return results
    with bench_server() as server:
        log("engines (1, 2): Gleitzeit vs hand-written Temporal")
        results["engine"] = _guard(
            "engines",
            log,
            lambda: asyncio.run(
                measure_engines(
                    server,
                    chain_n=cfg.chain_n,
                    chain_reps=cfg.chain_reps,
                    fanout_n={"python": cfg.fanout_python, "noop": cfg.fanout_noop},
                    fanout_reps=cfg.fanout_reps,
                    cap=cfg.cap,
                    log=log,
                )
            ),
        )
        if cfg.results_tasks:
            log(f"results fan-out (12): {cfg.results_tasks} tasks x {cfg.results_kb} KB vs hand-written")
            results["results_fanout"] = _guard(
                "results_fanout",
                log,
                lambda: asyncio.run(
                    measure_results_fanout(
                        server,
                        n=cfg.results_tasks,
                        cap=cfg.cap,
                        kb=cfg.results_kb,
                        reps=cfg.results_reps,
                        log=log,
                    )
                ),
            )
        log("metrics cost (1c): the python chain with the metrics interceptor on and off")
        results["metrics_cost"] = _guard(
            "metrics_cost",
            log,
            lambda: asyncio.run(
                measure_metrics_cost(server, chain_n=cfg.chain_n, reps=cfg.chain_reps, log=log)
            ),
        )
        log("chat (3)")
        results["chat"] = _guard(
            "chat",
            log,
            lambda: asyncio.run(
                measure_chat(server, calls=cfg.chat_calls, latency_ms=cfg.chat_latency_ms, log=log)
            ),
        )
        log("repeated gleitzeit run (6)")
        results["repeat"] = _guard(
            "repeat",
            log,
            lambda: asyncio.run(measure_repeat_runs(server, runs=cfg.repeat_runs, log=log)),
        )
        log("OpenAI-compatible endpoint (8)")
        results["compat"] = _guard(
            "compat",
            log,
            lambda: asyncio.run(
                measure_compat(
                    server,
                    calls=cfg.compat_calls,
                    latency_ms=cfg.chat_latency_ms,
                    concurrent=cfg.compat_concurrent,
                    log=log,
                )
            ),
        )
        log("several Ollama hosts (9)")
        results["pool"] = _guard(
            "pool",
            log,
            lambda: asyncio.run(
                measure_pool(
                    server,
                    tasks=cfg.pool_tasks,
                    latency_ms=cfg.pool_latency_ms,
                    per_host=cfg.pool_per_host,
                    log=log,
                )
            ),
        )
        if cfg.llm_server and cfg.llm_chats:
            from bench.llm_throughput import measure_llm_throughput

            log(
                f"real LLM throughput (11): {cfg.llm_chats} chats, pipeline vs hand-written vs direct vs xllamacpp's server"
            )
            results["llm_throughput"] = _guard(
                "llm_throughput",
                log,
                lambda: asyncio.run(
                    measure_llm_throughput(server, chats=cfg.llm_chats, rounds=cfg.llm_rounds, log=log)
                ),
            )
        _batch_rows(cfg, server, results, log)
    if cfg.original:
        from bench.original import run_original

        log("original Gleitzeit 0.0.5 (1, 2)")
        results["original"] = _guard(
            "original",
            log,
            lambda: run_original(
                chain=cfg.chain_n, reps=cfg.chain_reps, fanout=cfg.fanout_python, cap=cfg.cap
            ),
        )
        orig = results["original"]
        if "chain" in orig:
            log(
                f"  chain of {cfg.chain_n}: {orig['chain']['median_s']:.3f} s"
                + (
                    f"; fan-out of {cfg.fanout_python}: {orig['fanout']['median_s']:.2f} s"
                    if "fanout" in orig
                    else ""
                )
            )
    if cfg.llm_server:
        from bench import llm_server

        log("LLM server tokens/s")
        results["llm_server"] = _guard("llm_server", log, lambda: llm_server.run(quick=cfg.quick_llm))
    if cfg.pipeline_test_cases:
        from bench.pipeline_tests import measure_pipeline_tests

        log(f"gleitzeit test: {cfg.pipeline_test_cases} cases (6)")
        results["pipeline_tests"] = _guard(
            "pipeline_tests", log, lambda: measure_pipeline_tests(cfg.pipeline_test_cases, log)
        )
    results["machine"]["load_after"] = _load()
    return results


def _batch_rows(cfg: Config, server: Any, results: dict[str, Any], log: Callable[[str], None]) -> None:
    """Rows 4, 5 (one worker vs the ideal, its peak memory) and 4b (two workers vs one)."""
    from bench.client_bench import measure_batch, measure_batch_workers

    log(f"batch of {cfg.batch_items:,} files (4, 5)")
    results["batch"] = _guard(
        "batch",
        log,
        lambda: asyncio.run(
            measure_batch(
                server,
                items=cfg.batch_items,
                latency_ms=cfg.batch_latency_ms,
                max_concurrent=cfg.batch_concurrent,
                log=log,
            )
        ),
    )
    if not cfg.batch_workers_items:
        return
    log(f"batch of {cfg.batch_workers_items:,} files on two workers vs one (4b)")
    results["batch_workers"] = _guard(
        "batch_workers",
        log,
        lambda: asyncio.run(
            measure_batch_workers(
                server,
                items=cfg.batch_workers_items,
                latency_ms=cfg.batch_workers_latency_ms,
                per_worker=cfg.batch_per_worker,
                log=log,
            )
        ),
    )


def _load() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller runs (about 6-8 minutes: a 10,000-file batch)"
    )
    parser.add_argument(
        "--scale", action="store_true", help="only the batch rows, with 100,000 files (about 25-30 minutes)"
    )
    parser.add_argument("--json", metavar="FILE", help="also write every figure as JSON to FILE")
    parser.add_argument("--no-original", action="store_true", help="skip the original Gleitzeit 0.0.5")
    parser.add_argument(
        "--no-llm-server", action="store_true", help="skip the real-model LLM benchmarks (tokens/s, row 11)"
    )
    args = parser.parse_args(argv)
    cfg = SCALE if args.scale else QUICK if args.quick else FULL
    cfg = Config(**{**asdict(cfg), "original": not args.no_original, "llm_server": not args.no_llm_server})

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    started = time.monotonic()
    results = run_all(cfg, log)
    results["seconds"] = round(time.monotonic() - started, 1)
    from bench.report import render

    table = render(results)
    if args.scale:  # only the batch rows ran: the ratio table's header and rows 4, 4b and 5
        lines = table.splitlines()
        start = next((i for i, line in enumerate(lines) if line.startswith("| ratio")), 0)
        table = "\n".join(
            lines[start : start + 2] + [ln for ln in lines[start + 2 :] if ln[:4] in ("| 4.", "| 4b", "| 5.")]
        )
    print(table)
    print(
        f"\n{'scale' if args.scale else 'quick' if args.quick else 'full'} run, {results['seconds']:.0f} s, {results['machine']['cpus']} CPUs, "
        f"load {results['machine']['load']} -> {results['machine']['load_after']}"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({**results, "table": table}, indent=2, default=str))
    return 0


if __name__ == "__main__":
    rc = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)  # a process that ran a Temporal worker can crash at interpreter exit (FACTS.md)
