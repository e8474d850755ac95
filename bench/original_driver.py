"""Run by the ORIGINAL Gleitzeit 0.0.5's interpreter (its own venv): chain and fan-out of trivial python tasks.

    .venv-bench-gleitzeit/bin/python -I bench/original_driver.py --chain 20 --reps 3 --fanout 1000 --cap 50

Must not import anything of this repository (the package names clash): it is started with ``-I`` from
a scratch directory. Uses the original's native mode (``GleitzeitClient(mode="native")``: its own
execution engine in this process, no server), whose python provider runs a trusted *file* per task
in a subprocess (the working directory is trusted). Prints one JSON object on the last line.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

SCRIPT = 'import json\nprint(json.dumps({"ok": 1}))\n'


def _workflow(path: Path, name: str, n: int, chain: bool) -> Path:
    tasks = []
    for i in range(n):
        task: dict[str, Any] = {
            "id": f"t{i}",
            "name": f"t{i}",
            "method": "python/execute",
            "params": {"file": "step.py", "timeout": 30},
        }
        if chain and i:
            task["dependencies"] = [f"t{i - 1}"]
        tasks.append(task)
    file = path / f"{name}.json"
    file.write_text(json.dumps({"name": name, "tasks": tasks}))
    return file


async def _run(client: Any, file: Path, n: int, problems: list[str]) -> float | None:
    """Seconds for one run; tasks that did not complete are reported in ``problems`` (not hidden).

    None when the run raised (0.0.5 raises when a task fails): the other rows still count.
    """
    t0 = time.perf_counter()
    try:
        result = await client.run_workflow(str(file))
    except Exception as exc:  # noqa: BLE001 - reported, not hidden
        problems.append(f"a run of {n} tasks failed after {time.perf_counter() - t0:.1f} s: {exc!s:.200}")
        return None
    elapsed = time.perf_counter() - t0
    results = result.get("results", {})
    done = [r for r in results.values() if str(r.get("status", "")).lower().endswith("completed")]
    if len(done) != n:
        others = [r for r in results.values() if r not in done]
        sample = str(others[0].get("error") or others[0].get("status"))[:200] if others else "no result"
        problems.append(f"{n - len(done)} of {n} tasks did not complete ({sample})")
    return elapsed


async def main(args: argparse.Namespace) -> dict[str, Any]:
    from gleitzeit.client import GleitzeitClient  # the ORIGINAL package, from its own venv

    work = Path.cwd()
    (work / "step.py").write_text(SCRIPT)
    out: dict[str, Any] = {"version": _version(), "problems": []}
    problems: list[str] = out["problems"]
    client = GleitzeitClient(
        mode="native",
        native_config={"max_concurrent_tasks": args.cap, "enable_resource_management": False},
    )
    await client.initialize()
    try:
        warm = _workflow(work, "warm", 2, chain=True)
        await _run(client, warm, 2, problems)
        if args.chain:
            file = _workflow(work, "chain", args.chain, chain=True)
            runs = _finished([await _run(client, file, args.chain, problems) for _ in range(args.reps)])
            if runs:
                out["chain"] = {"n": args.chain, "runs_s": runs, "median_s": statistics.median(runs)}
        if args.fanout:
            file = _workflow(work, "fanout", args.fanout, chain=False)
            runs = _finished(
                [await _run(client, file, args.fanout, problems) for _ in range(args.fanout_reps)]
            )
            if runs:
                out["fanout"] = {
                    "n": args.fanout,
                    "cap": args.cap,
                    "runs_s": runs,
                    "median_s": statistics.median(runs),
                }
    finally:
        await client.shutdown()
    return out


def _finished(runs: list[float | None]) -> list[float]:
    return [r for r in runs if r is not None]


def _version() -> str:
    try:
        from importlib.metadata import version

        return version("gleitzeit")
    except Exception:
        return "unknown"


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--chain", type=int, default=20)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--fanout", type=int, default=0)
    parser.add_argument("--fanout-reps", type=int, default=1)
    parser.add_argument("--cap", type=int, default=50)
    ns = parser.parse_args()
    logging.disable(logging.CRITICAL)  # the original logs every task at INFO
    result = asyncio.run(main(ns))
    sys.stdout.flush()
    print(json.dumps(result))
    sys.stdout.flush()
    os._exit(0)  # its background tasks can keep the loop's threads alive
