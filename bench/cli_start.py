"""Row 9: how long `gleitzeit --help` and `gleitzeit validate` of a 5-task file take to start and answer,
against the yardstick ``python -c "import yaml, pydantic"`` measured in the same run (issue 24 target 1:
within 3x).

Each command is a fresh interpreter, as a user types it; the three are run in turns (one round =
yardstick, help, validate) so that the machine's load drifts over all of them alike, and the row gives
the medians' ratios. Wall time is the figure; the processes' CPU time (user + system) is given beside
it, steadier on a shared machine. Bytecode: an installed package has its ``.pyc`` files (pip writes
them), this checkout may run with ``PYTHONDONTWRITEBYTECODE``: so the commands run with a bytecode
cache in a temporary directory (``PYTHONPYCACHEPREFIX``) and one warm-up round fills it; nothing is
written into the checkout.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import ROOT, median

__all__ = ["FIVE_TASKS", "TARGET", "measure_cli_start"]

TARGET = 3.0
YARDSTICK = "import yaml, pydantic"
FIVE_TASKS = """\
name: cli start bench
inputs:
  topic: rivers
tasks:
  - id: facts
    method: python/execute
    parameters: {code: "print(1)", context: {topic: "${inputs.topic}"}}
  - id: ask
    method: llm/chat
    parameters:
      model: smollm2:135m
      messages: [{role: user, content: "Tell me about ${inputs.topic}: ${facts.result}"}]
  - id: short
    method: llm/generate
    parameters: {model: smollm2:135m, prompt: "Shorten: ${ask.response}"}
  - id: embed
    method: llm/embed
    parameters: {model: all-minilm, input: "${short.response}"}
  - id: measure
    method: python/execute
    parameters: {code: "print(2)", context: {text: "${short.response}", n: "${embed.embeddings}"}}
"""


def _timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one run of ``command``; it must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[-2:])} exited {done.returncode}: {done.stderr[-300:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def measure_cli_start(rounds: int = 10, log: Callable[[str], None] = print) -> dict[str, Any]:
    cli = [sys.executable, "-c", "from gleitzeit.cli import main; main()"]
    with tempfile.TemporaryDirectory(prefix="gleitzeit-bench-cli-") as tmp:
        pipeline = Path(tmp) / "five.yaml"
        pipeline.write_text(FIVE_TASKS)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env.update(PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(Path(tmp) / "pycache"), NO_COLOR="1")
        commands = {
            "yardstick": [sys.executable, "-c", YARDSTICK],
            "help": [*cli, "--help"],
            "validate": [*cli, "validate", str(pipeline)],
        }
        for command in commands.values():  # warm-up: fills the bytecode cache
            _timed(command, env)
        walls: dict[str, list[float]] = {name: [] for name in commands}
        cpus: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(rounds):
            for name, command in commands.items():
                wall, cpu = _timed(command, env)
                walls[name].append(wall)
                cpus[name].append(cpu)
    result: dict[str, Any] = {"rounds": rounds, "tasks": 5, "target": TARGET}
    for name in commands:
        result[f"{name}_s"] = round(median(walls[name]), 3)
        result[f"{name}_cpu_s"] = round(median(cpus[name]), 3)
    for name in ("help", "validate"):
        result[f"{name}_ratio"] = round(result[f"{name}_s"] / result["yardstick_s"], 2)
        result[f"{name}_cpu_ratio"] = round(result[f"{name}_cpu_s"] / result["yardstick_cpu_s"], 2)
    log(
        f"  yardstick {result['yardstick_s']:.3f} s; --help {result['help_s']:.3f} s "
        f"({result['help_ratio']:.2f}x); validate {result['validate_s']:.3f} s ({result['validate_ratio']:.2f}x)"
    )
    return result


if __name__ == "__main__":
    import json

    print(json.dumps(measure_cli_start(), indent=2))
