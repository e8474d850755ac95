"""Benchmarks 3-5 through the public client (``GleitzeitClient``), against an OllamaDouble with a fixed
latency, on the benchmark's dev server.

3. ``chat``: durable ``client.chat()`` (a one-task workflow, in-process worker, eager start) vs a
   direct ``ollama`` client call to the same double; the added latency at p50 and p95.
4. ``batch``: ``client.batch_process`` over N small files; wall time vs the ideal
   N x latency / max_concurrent. The worker runs as its own process (``gleitzeit worker``), as in a
   deployment, so that
5. its peak memory (the kernel's high-water mark, VmHWM) is the worker's alone.

Each one reports ``{"available": False, "reason": ...}`` when the API it needs is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.common import ROOT, BenchServer, NotAvailable, ollama_double, percentile
from bench.handwritten import HAND_WORKFLOWS, HandChat
from gleitzeit.contracts.tasks import TaskInput
from gleitzeit.services.connection import connect
from gleitzeit.worker.build import build_worker

__all__ = ["cached_docs", "measure_batch", "measure_batch_workers", "measure_chat"]

MODEL = "smollm2:135m"
# Which input file a request was for: each file's text starts "document <i>:".
_DOC = re.compile(r"document \d+:")


def _client_api() -> Any:
    """GleitzeitClient, or None when the client module does not exist (yet)."""
    try:
        from gleitzeit.client.client import GleitzeitClient
    except ImportError:
        return None
    return GleitzeitClient


async def measure_chat(
    server: BenchServer, *, calls: int, latency_ms: float, log: Callable[[str], None] = print
) -> dict[str, Any]:
    client_cls = _client_api()
    if client_cls is None or not hasattr(client_cls, "chat"):
        return {"available": False, "reason": "GleitzeitClient.chat is not available"}
    import httpx
    import ollama

    with ollama_double(latency_ms) as url:
        settings = server.settings.model_copy(
            update={"ollama_host": url, "task_queue": f"bench-chat-{uuid.uuid4().hex[:6]}"}
        )
        direct = ollama.AsyncClient(host=url, timeout=httpx.Timeout(30.0))
        messages = [{"role": "user", "content": "What is Python?"}]
        durable_s: list[float] = []
        direct_s: list[float] = []
        hand_s: list[float] = []
        # The floor on this server: a hand-written workflow running the same activity code as a local
        # activity, started eagerly (its own worker, in this process like Gleitzeit's).
        hand_settings = settings.model_copy(update={"task_queue": settings.task_queue + "-hand"})
        temporal = await connect(hand_settings)
        hand_input = TaskInput(
            task_id="chat",
            method="llm/chat",
            parameters={"model": MODEL, "messages": messages, "max_tokens": 8},
        )

        async def hand_chat() -> None:
            await temporal.execute_workflow(
                HandChat.run,
                hand_input,
                id=f"bench-chat-{uuid.uuid4().hex[:8]}",
                task_queue=hand_settings.task_queue,
                request_eager_start=True,
            )

        async with (
            client_cls(mode="native", settings=settings, native_config={"worker": "always"}) as gz,
            build_worker(temporal, hand_settings, extra_workflows=HAND_WORKFLOWS),
        ):
            for _ in range(3):  # warm-up: sandbox, connections, model lookup
                await gz.chat("warm up", model=MODEL, max_tokens=8)
                await direct.chat(model=MODEL, messages=messages, options={"num_predict": 8})
                await hand_chat()
            for _ in range(calls):  # alternate, so load from elsewhere hits all alike
                t0 = time.perf_counter()
                await direct.chat(model=MODEL, messages=messages, options={"num_predict": 8})
                direct_s.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                await gz.chat("What is Python?", model=MODEL, max_tokens=8)
                durable_s.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                await hand_chat()
                hand_s.append(time.perf_counter() - t0)
    result = {
        "available": True,
        "calls": calls,
        "latency_ms": latency_ms,
        "direct_p50_ms": percentile(direct_s, 50) * 1000,
        "direct_p95_ms": percentile(direct_s, 95) * 1000,
        "durable_p50_ms": percentile(durable_s, 50) * 1000,
        "durable_p95_ms": percentile(durable_s, 95) * 1000,
    }
    result["added_p50_ms"] = result["durable_p50_ms"] - result["direct_p50_ms"]
    result["added_p95_ms"] = result["durable_p95_ms"] - result["direct_p95_ms"]
    result["hand_added_p50_ms"] = percentile(hand_s, 50) * 1000 - result["direct_p50_ms"]
    log(
        f"  chat x{calls}: direct p50 {result['direct_p50_ms']:.1f} ms, durable p50 "
        f"{result['durable_p50_ms']:.1f} ms (+{result['added_p50_ms']:.1f}), p95 +{result['added_p95_ms']:.1f} ms; "
        f"hand-written workflow p50 +{result['hand_added_p50_ms']:.1f} ms"
    )
    return result


def _make_files(directory: Path, n: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (directory / f"doc{i:06d}.txt").write_text(f"document {i}: a few words to summarize.\n")


def cached_docs(n: int) -> Path:
    """``n`` small input files, made once in a cache folder beside the bench's temporary files and reused
    (100,000 of them take a while on a busy machine); a ``.complete`` marker says they are all there."""
    directory = Path(tempfile.gettempdir()) / "gleitzeit-bench-cache" / f"docs-{n}"
    if not (directory / ".complete").exists():
        shutil.rmtree(directory, ignore_errors=True)
        _make_files(directory, n)
        (directory / ".complete").write_text(f"{n}\n")
    return directory


def _peak_rss_bytes(pid: int) -> int | None:
    """The process's peak resident set (Linux VmHWM), or None where /proc does not say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


@contextlib.contextmanager
def _worker_process(
    settings: Any, log_file: Path, cap: int | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    """A ``gleitzeit worker`` process (``cap``: its --max-concurrent-activities)."""
    env = {
        **os.environ,
        "GLEITZEIT_TEMPORAL_ADDRESS": settings.temporal_address,
        "GLEITZEIT_TASK_QUEUE": settings.task_queue,
        "GLEITZEIT_DATA_DIR": str(settings.data_dir),
        "GLEITZEIT_AUTO_START_TEMPORAL": "false",
        "GLEITZEIT_AUTO_START_LLM": "false",
        "OLLAMA_HOST": settings.ollama_host,
    }
    args = ["--max-concurrent-activities", str(cap)] if cap else []
    with open(log_file, "wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from gleitzeit.cli import main; main()", "worker", *args],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def _direct_batch(url: str, docs: Path, max_concurrent: int) -> float:
    """The floor of a batch on this machine: every file read and sent by one ``ollama`` AsyncClient,
    ``max_concurrent`` at a time, with nothing durable around it. Seconds."""
    import httpx
    import ollama

    files = sorted(docs.glob("*.txt"))
    client = ollama.AsyncClient(host=url, limits=httpx.Limits(max_connections=max_concurrent + 10))
    pending = iter(files)

    async def lane() -> None:
        for path in pending:
            text = path.read_text(encoding="utf-8")
            await client.chat(
                model=MODEL,
                messages=[{"role": "user", "content": f"{text}\n\nSummarize this document"}],
                options={"num_predict": 8},
            )

    t0 = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(max_concurrent)))
    return time.perf_counter() - t0


async def _wait_for_workers(
    settings: Any, workers: list[subprocess.Popen[bytes]], limit: float = 120.0
) -> None:
    from temporalio.client import Client

    from gleitzeit.services.runtime import live_pollers

    client = await Client.connect(settings.temporal_address, namespace=settings.namespace)
    deadline = time.monotonic() + limit
    while await live_pollers(client, settings.namespace, settings.task_queue) < len(workers):
        if any(w.poll() is not None for w in workers) or time.monotonic() > deadline:
            return  # reported by the caller (a worker exited) or timed as it is
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)  # its activity pollers start together with the workflow poller


async def _double_texts(url: str) -> list[str]:
    """The prompt text of every chat the double answered (then forgets them, for the next run)."""
    import httpx

    async with httpx.AsyncClient(base_url=url, timeout=120) as http:
        pairs = (await http.get("/_double/texts")).json()
        await http.post("/_double/reset")
    return [text for path, text in pairs if path == "/api/chat"]


async def _runs(settings: Any, workflow_id: str) -> dict[str, Any]:
    """The batch's runs (continue-as-new): how many, and the largest history among them."""
    from temporalio.client import Client

    client = await Client.connect(settings.temporal_address, namespace=settings.namespace)
    runs = [r async for r in client.list_workflows(f"WorkflowId = '{workflow_id}'")]
    return {
        "runs": len(runs),
        "max_history_events": max((r.history_length for r in runs), default=0),
        "max_history_bytes": max((r.raw_info.history_size_bytes for r in runs), default=0),
    }


async def _timed_batch(
    client_cls: Any,
    settings: Any,
    docs: Path,
    tmp: Path,
    *,
    max_concurrent: int,
    workers: int = 1,
    cap: int | None = None,
) -> dict[str, Any]:
    """``batch_process`` of ``docs`` on ``workers`` ``gleitzeit worker`` processes, timed from when they
    all poll (their start-up is not the batch's); wall time, results, peak memory, the double's requests."""
    with contextlib.ExitStack() as stack:
        procs = [
            stack.enter_context(_worker_process(settings, tmp / f"worker-{settings.task_queue}-{i}.log", cap))
            for i in range(workers)
        ]
        async with client_cls(mode="native", settings=settings, native_config={"worker": "never"}) as gz:
            await _wait_for_workers(settings, procs)
            t0 = time.perf_counter()
            results = await gz.batch_process(
                str(docs),
                pattern="*.txt",
                prompt="Summarize this document",
                model=MODEL,
                max_concurrent=max_concurrent,
                max_tokens=8,
            )
            wall = time.perf_counter() - t0
        peaks = [_peak_rss_bytes(p.pid) for p in procs]
        for i, proc in enumerate(procs):
            if proc.poll() is not None:
                tail = (tmp / f"worker-{settings.task_queue}-{i}.log").read_text(errors="replace")[-500:]
                raise NotAvailable(f"a worker process exited early: {tail}")
    texts = await _double_texts(settings.ollama_host)
    per_file = Counter(m.group(0) if (m := _DOC.search(text)) else text for text in texts)
    return {
        "wall_s": wall,
        "completed": len(results),
        "failed": len(results.errors),
        "requests": len(texts),
        "requested_twice": sum(c > 1 for c in per_file.values()),
        "peak_rss_mb": [p / 1_048_576 if p else None for p in peaks],
        **(await _runs(settings, results.workflow_id) if results.workflow_id else {}),
    }


async def measure_batch(
    server: BenchServer,
    *,
    items: int,
    latency_ms: float,
    max_concurrent: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Row 4 (and 5): ``items`` files on one worker process vs the ideal and direct ``ollama`` calls."""
    client_cls = _client_api()
    if client_cls is None or not hasattr(client_cls, "batch_process"):
        return {"available": False, "reason": "GleitzeitClient.batch_process is not available"}
    ideal = items * latency_ms / 1000 / max_concurrent
    docs = cached_docs(items)
    with (
        tempfile.TemporaryDirectory(prefix="gleitzeit-bench-batch-") as tmp,
        ollama_double(latency_ms) as url,
    ):
        settings = server.settings.model_copy(
            update={"ollama_host": url, "task_queue": f"bench-batch-{uuid.uuid4().hex[:6]}"}
        )
        try:
            run = await _timed_batch(client_cls, settings, docs, Path(tmp), max_concurrent=max_concurrent)
        except NotAvailable as exc:
            return {"available": False, "reason": str(exc)}
        # Measured after, on the same double and files, while the dev server idles.
        direct = await _direct_batch(url, docs, max_concurrent)
    wall = run["wall_s"]
    peak = run["peak_rss_mb"][0]
    result = {
        "available": True,
        "items": items,
        "latency_ms": latency_ms,
        "max_concurrent": max_concurrent,
        "wall_s": wall,
        "ideal_s": ideal,
        "ratio_to_ideal": wall / ideal,
        "direct_s": direct,
        "direct_ratio_to_ideal": direct / ideal,
        "ratio_to_direct": wall / direct,
        "items_per_s": items / wall,
        "completed": run["completed"],
        "failed": run["failed"],
        "requests": run["requests"],
        "requested_twice": run["requested_twice"],
        "runs": run.get("runs"),
        "max_history_events": run.get("max_history_events"),
        "max_history_bytes": run.get("max_history_bytes"),
        "worker_peak_rss_mb": peak,
    }
    log(
        f"  batch of {items} (latency {latency_ms:g} ms, {max_concurrent} at a time): {wall:.1f} s vs ideal "
        f"{ideal:.1f} s (x{wall / ideal:.2f}); direct ollama calls {direct:.1f} s (x{direct / ideal:.2f}); "
        f"{run['completed']} done, {run['failed']} failed, {run['requests']} requests "
        f"({run['requested_twice']} files twice); {run.get('runs')} runs, at most "
        f"{run.get('max_history_events')} events; worker peak " + (f"{peak:.0f} MB" if peak else "n/a")
    )
    return result


async def measure_batch_workers(
    server: BenchServer,
    *,
    items: int,
    latency_ms: float,
    per_worker: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    """Row 4b: the same batch on one ``gleitzeit worker`` process and on two, each running at most
    ``per_worker`` activities (``--max-concurrent-activities``), the batch allowing twice that and the
    double answering twice that at once: one worker's cap is the limit, so two should take half the time.

    ``per_worker`` * 2 stays <= plan.MAX_LANES, so every chunk runs one file at a time and a worker's
    activity cap is its cap on files; the latency is long enough that on a 2-core machine the engine's
    CPU is not the limit (see README, Performance).
    """
    client_cls = _client_api()
    if client_cls is None or not hasattr(client_cls, "batch_process"):
        return {"available": False, "reason": "GleitzeitClient.batch_process is not available"}
    window = 2 * per_worker
    docs = cached_docs(items)
    walls: dict[int, dict[str, Any]] = {}
    with (
        tempfile.TemporaryDirectory(prefix="gleitzeit-bench-batch2-") as tmp,
        ollama_double(latency_ms, max_parallel=window) as url,
    ):
        for workers in (1, 2):
            settings = server.settings.model_copy(
                update={"ollama_host": url, "task_queue": f"bench-batch{workers}-{uuid.uuid4().hex[:6]}"}
            )
            try:
                walls[workers] = await _timed_batch(
                    client_cls,
                    settings,
                    docs,
                    Path(tmp),
                    max_concurrent=window,
                    workers=workers,
                    cap=per_worker,
                )
            except NotAvailable as exc:
                return {"available": False, "reason": str(exc)}
    one, two = walls[1], walls[2]
    result = {
        "available": True,
        "items": items,
        "latency_ms": latency_ms,
        "per_worker": per_worker,
        "max_concurrent": window,
        "ideal_one_s": items * latency_ms / 1000 / per_worker,
        "ideal_two_s": items * latency_ms / 1000 / window,
        "one_worker_s": one["wall_s"],
        "two_workers_s": two["wall_s"],
        "ratio": two["wall_s"] / one["wall_s"],
        "failed": one["failed"] + two["failed"],
        "completed": [one["completed"], two["completed"]],
        "requested_twice": one["requested_twice"] + two["requested_twice"],
        "peak_rss_mb": one["peak_rss_mb"] + two["peak_rss_mb"],
    }
    log(
        f"  batch of {items} ({latency_ms:g} ms, {per_worker} per worker, {window} in the batch and the double): "
        f"one worker {one['wall_s']:.1f} s (ideal {result['ideal_one_s']:.1f}), two {two['wall_s']:.1f} s "
        f"(ideal {result['ideal_two_s']:.1f}): x{result['ratio']:.2f}; {result['failed']} failed, "
        f"{result['requested_twice']} files requested twice"
    )
    return result


if __name__ == "__main__":  # a quick look: python -m bench.client_bench
    from bench.common import bench_server

    with bench_server() as srv:
        print(asyncio.run(measure_chat(srv, calls=20, latency_ms=5)))
        print(asyncio.run(measure_batch(srv, items=300, latency_ms=50, max_concurrent=20)))
