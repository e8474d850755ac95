"""Shared pieces of the benchmarks: a private dev server, an OllamaDouble subprocess, statistics.

Every benchmark that needs Temporal runs against one dev server started here, with exactly the flags
``gleitzeit.services.temporal_dev`` uses for users (SQLite file, persistence settings, dynamic config), on a
free port and a temporary data directory, so what we measure is what ``gleitzeit run`` gets.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gleitzeit.config import Settings

__all__ = [
    "ROOT",
    "BenchServer",
    "NotAvailable",
    "bench_server",
    "free_port",
    "listening_subprocess",
    "median",
    "ollama_double",
    "percentile",
    "trivial_script",
]

ROOT = Path(__file__).resolve().parents[1]
# The "trivial task" of every engine: a tiny inline script that prints one JSON value.
TRIVIAL_CODE = 'import json, sys\nprint(json.dumps({"ok": 1}))\n'


class NotAvailable(Exception):
    """A benchmark cannot run here (a missing API or tool); the table shows n/a with the reason."""


def trivial_script() -> str:
    return TRIVIAL_CODE


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100), nearest-rank on the sorted values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return float(ordered[rank - 1])


@dataclass
class BenchServer:
    settings: Settings
    data_dir: Path
    pid: int | None = None  # the dev server's process (its CPU is part of what an engine costs)


@contextlib.contextmanager
def bench_server(**overrides: Any) -> Iterator[BenchServer]:
    """A dev server of our own (headless, temporary SQLite file), stopped and removed afterwards."""
    from gleitzeit.services.temporal_dev import start_dev_server, stop_dev_server

    data_dir = Path(tempfile.mkdtemp(prefix="gleitzeit-bench-"))
    settings = Settings(
        temporal_address=f"127.0.0.1:{free_port()}",
        ui_port=free_port(),
        data_dir=data_dir,
        task_queue="bench",
        auto_start_llm=False,
        **overrides,
    )
    try:
        dev = start_dev_server(settings, headless=True)
        yield BenchServer(settings, data_dir, dev.pid)
    finally:
        stop_dev_server(settings)
        shutil.rmtree(data_dir, ignore_errors=True)


@contextlib.contextmanager
def listening_subprocess(
    args: Sequence[str], port: int, what: str, wait_s: float = 30.0
) -> Iterator[subprocess.Popen[bytes]]:
    """``python args...`` in a subprocess (from the repository root), yielded once it listens on
    ``port`` and stopped afterwards; NotAvailable naming ``what`` if it exits or does not listen within
    ``wait_s`` seconds."""
    proc = subprocess.Popen(
        [sys.executable, *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise NotAvailable(f"{what} exited with code {proc.returncode}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
            time.sleep(0.05)
        else:
            raise NotAvailable(f"{what} did not listen within {wait_s:.0f} s")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextlib.contextmanager
def ollama_double(latency_ms: float, max_parallel: int | None = None) -> Iterator[str]:
    """An OllamaDouble subprocess with a fixed latency (answering ``max_parallel`` at once, queueing
    the rest, as Ollama does; None: no limit); yields its URL."""
    port = free_port()
    parallel = ["--max-parallel", str(max_parallel)] if max_parallel else []
    args = ["-m", "tests.doubles.ollama_double", "--port", str(port), "--latency-ms", str(latency_ms)]
    with listening_subprocess([*args, *parallel], port, "the OllamaDouble"):
        yield f"http://127.0.0.1:{port}"
