"""Benchmark 9: several Ollama hosts. A fan-out of chat tasks over two LLM hosts (a pool) vs the same
fan-out on one host, through the public client and an in-process worker on the benchmark's dev server.

The hosts are OllamaDouble subprocesses with a fixed latency that answer ``per_host`` calls at once and
queue the rest (as Ollama does with OLLAMA_NUM_PARALLEL), so each host's concurrency is the limit: the
ideal ratio is 2.0x, and what is lost below it is Gleitzeit's own cost of spreading the calls. The one
host is the plain single-host path (``OLLAMA_HOST``); the two are a pool with ``max_concurrent`` equal
to what each host answers at once.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import Any

from bench.common import BenchServer, ollama_double
from gleitzeit.client.client import GleitzeitClient
from gleitzeit.config import Settings
from gleitzeit.core.ollama_pool import OllamaPoolConfig

__all__ = ["measure_pool"]

MODEL = "smollm2:135m"


def _fan_out(n: int) -> dict[str, Any]:
    return {
        "name": f"pool-fan-out-{n}",
        "tasks": [
            {
                "id": f"ask{i}",
                "method": "llm/chat",
                "parameters": {"model": MODEL, "prompt": f"question {i}", "max_tokens": 8},
            }
            for i in range(n)
        ],
    }


async def _timed(settings: Settings, tasks: int) -> tuple[float, dict[str, int]]:
    """Seconds for the fan-out (after a warm-up run), and how many tasks each host served."""
    async with GleitzeitClient(mode="native", settings=settings, native_config={"worker": "always"}) as gz:
        await gz.run_workflow(_fan_out(4), timeout=120)  # warm-up: worker, connections, host probes
        started = time.perf_counter()
        results = await gz.run_workflow(_fan_out(tasks), timeout=600)
        wall = time.perf_counter() - started
    served: dict[str, int] = {}
    for result in results.values():
        host = str(result.get("host", "OLLAMA_HOST"))
        served[host] = served.get(host, 0) + 1
    return wall, served


async def measure_pool(
    server: BenchServer,
    *,
    tasks: int,
    latency_ms: float,
    per_host: int,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    with ollama_double(latency_ms, per_host) as one_url, ollama_double(latency_ms, per_host) as two_url:
        base = server.settings.model_copy(update={"auto_start_llm": False, "auto_start_temporal": False})
        single = base.model_copy(
            update={"ollama_host": one_url, "task_queue": f"bench-pool1-{uuid.uuid4().hex[:6]}"}
        )
        pool = OllamaPoolConfig.model_validate(
            {
                "instances": [
                    {"id": "one", "url": one_url, "max_concurrent": per_host},
                    {"id": "two", "url": two_url, "max_concurrent": per_host},
                ]
            }
        )
        double = base.model_copy(
            update={
                "ollama_host": "http://127.0.0.1:9",  # unused: the pool serves every task
                "ollama_pool": pool,
                "task_queue": f"bench-pool2-{uuid.uuid4().hex[:6]}",
            }
        )
        one_s, _ = await _timed(single, tasks)
        two_s, served = await _timed(double, tasks)
    result = {
        "available": True,
        "tasks": tasks,
        "latency_ms": latency_ms,
        "per_host": per_host,
        "one_host_s": round(one_s, 2),
        "two_hosts_s": round(two_s, 2),
        "one_host_tasks_per_s": tasks / one_s,
        "two_hosts_tasks_per_s": tasks / two_s,
        "ratio": one_s / two_s,
        "ideal_one_host_s": tasks * latency_ms / 1000 / per_host,
        "served": served,
    }
    log(
        f"  fan-out of {tasks} chats, {latency_ms:g} ms each, {per_host} at once per host: one host "
        f"{one_s:.1f} s, two hosts {two_s:.1f} s ({result['ratio']:.2f}x; served {served})"
    )
    return result
