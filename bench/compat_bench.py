"""Benchmark 7: the OpenAI-compatible endpoint (``POST /v1/chat/completions`` on ``gleitzeit serve``) vs a
direct call to the same LLM server, next to the hand-written Temporal floor measured in the same run.

``gleitzeit serve`` runs as its own process (its in-process worker starts each call eagerly as a local
activity, as deployed); the LLM server is an OllamaDouble with a fixed latency, so the figures are
Gleitzeit's cost alone. Latency: sequential calls, alternating direct / endpoint / hand-written
workflow, p50 and p95. Throughput: ``concurrent`` requests at once through the endpoint vs direct.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from bench.common import BenchServer, free_port, ollama_double, percentile
from bench.handwritten import HAND_WORKFLOWS, HandChat
from gleitzeit.contracts.tasks import TaskInput
from gleitzeit.services.api_process import start_api_server
from gleitzeit.services.connection import connect
from gleitzeit.worker.build import build_worker

__all__ = ["measure_compat"]

MODEL = "smollm2:135m"
TOKEN = "bench-token"


async def measure_compat(
    server: BenchServer,
    *,
    calls: int,
    latency_ms: float,
    concurrent: int = 200,
    log: Callable[[str], None] = print,
) -> dict[str, Any]:
    messages = [{"role": "user", "content": "What is Python?"}]
    with ollama_double(latency_ms) as url:
        settings = server.settings.model_copy(
            update={
                "ollama_host": url,
                "task_queue": f"bench-compat-{uuid.uuid4().hex[:6]}",
                "api_token": TOKEN,
                "auto_start_temporal": False,
                "auto_start_llm": False,
            }
        )
        api = await start_api_server(settings, "127.0.0.1", free_port())
        hand_settings = settings.model_copy(update={"task_queue": settings.task_queue + "-hand"})
        temporal = await connect(hand_settings)
        hand_input = TaskInput(
            task_id="chat",
            method="llm/chat",
            parameters={"model": MODEL, "messages": messages, "max_tokens": 8},
        )
        limits = httpx.Limits(max_connections=concurrent, max_keepalive_connections=concurrent)
        try:
            async with (
                httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as llm,
                httpx.AsyncClient(
                    base_url=api.url, timeout=120, limits=limits, headers={"Authorization": f"Bearer {TOKEN}"}
                ) as http,
                build_worker(temporal, hand_settings, extra_workflows=HAND_WORKFLOWS),
            ):

                async def direct() -> None:
                    body = {
                        "model": MODEL,
                        "messages": messages,
                        "stream": False,
                        "options": {"num_predict": 8},
                    }
                    (await llm.post("/api/chat", json=body)).raise_for_status()

                async def endpoint() -> None:
                    body = {"model": MODEL, "messages": messages, "max_tokens": 8}
                    (await http.post("/v1/chat/completions", json=body)).raise_for_status()

                async def hand() -> None:
                    await temporal.execute_workflow(
                        HandChat.run,
                        hand_input,
                        id=f"bench-hand-{uuid.uuid4().hex[:8]}",
                        task_queue=hand_settings.task_queue,
                        request_eager_start=True,
                    )

                for _ in range(3):  # warm-up: connections, the worker's first workflow tasks
                    await direct()
                    await endpoint()
                    await hand()
                times: dict[str, list[float]] = {"direct": [], "endpoint": [], "hand": []}
                for _ in range(calls):
                    for name, call in (("direct", direct), ("endpoint", endpoint), ("hand", hand)):
                        t0 = time.perf_counter()
                        await call()
                        times[name].append(time.perf_counter() - t0)
                direct_wall = await _burst(direct, concurrent)
                endpoint_wall = await _burst(endpoint, concurrent)
        finally:
            api.stop()
    p = {name: (percentile(v, 50) * 1000, percentile(v, 95) * 1000) for name, v in times.items()}
    result = {
        "available": True,
        "calls": calls,
        "latency_ms": latency_ms,
        "direct_p50_ms": p["direct"][0],
        "direct_p95_ms": p["direct"][1],
        "endpoint_p50_ms": p["endpoint"][0],
        "endpoint_p95_ms": p["endpoint"][1],
        "added_p50_ms": p["endpoint"][0] - p["direct"][0],
        "added_p95_ms": p["endpoint"][1] - p["direct"][1],
        "hand_added_p50_ms": p["hand"][0] - p["direct"][0],
        "hand_added_p95_ms": p["hand"][1] - p["direct"][1],
        "concurrent": concurrent,
        "direct_rps": concurrent / direct_wall,
        "endpoint_rps": concurrent / endpoint_wall,
    }
    log(
        f"  /v1/chat/completions x{calls}: direct p50 {result['direct_p50_ms']:.1f} ms, added p50 "
        f"+{result['added_p50_ms']:.1f} / p95 +{result['added_p95_ms']:.1f} ms; hand-written workflow "
        f"+{result['hand_added_p50_ms']:.1f} / +{result['hand_added_p95_ms']:.1f} ms; {concurrent} at once: "
        f"{result['endpoint_rps']:.0f} req/s via the endpoint, {result['direct_rps']:.0f} direct"
    )
    return result


async def _burst(call: Callable[[], Awaitable[None]], n: int) -> float:
    """Wall seconds of ``n`` calls started at once (every one must succeed)."""
    t0 = time.perf_counter()
    await asyncio.gather(*(call() for _ in range(n)))
    return time.perf_counter() - t0
