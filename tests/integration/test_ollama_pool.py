"""Several Ollama hosts on a real dev server and worker: a pipeline's ``providers.ollama_pool`` block and
the worker's ``OLLAMA_HOSTS`` spread llm/* tasks over Ollama-API doubles (``OllamaDouble``), only to
hosts that have the task's model, never more at once per host than its ``max_concurrent``; a host
killed mid-run loses no task (Temporal's next attempt goes to the other host); ``get_status()`` lists
the hosts with health and load.

One native client with its in-process worker serves the module: its settings name two doubles as
``OLLAMA_HOSTS`` (the host-kill test uses those), the other tests bring their own pool block.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from temporalio.testing import WorkflowEnvironment

from gleitzeit.client import GleitzeitClient
from gleitzeit.config import Settings
from gleitzeit.core.errors import TaskExecutionError
from tests.doubles.ollama_double import OllamaDouble
from tests.helpers import until

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(180)]


@dataclass
class PoolStack:
    client: GleitzeitClient
    a: OllamaDouble  # a, b (only other:1b) and e: the pipelines' own pool blocks
    b: OllamaDouble
    e: OllamaDouble
    c: OllamaDouble  # c and d: the worker's OLLAMA_HOSTS
    d: OllamaDouble
    tmp: Path


@pytest.fixture(scope="module")
async def stack(
    local_env: WorkflowEnvironment, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[PoolStack]:
    doubles = [
        OllamaDouble(),
        OllamaDouble(models=("other:1b",)),
        OllamaDouble(),
        OllamaDouble(),
        OllamaDouble(),
    ]
    for double in doubles:
        await asyncio.to_thread(double.start)
    a, b, c, d, e = doubles
    tmp = tmp_path_factory.mktemp("pool")
    settings = Settings(
        temporal_address=local_env.client.service_client.config.target_host,
        task_queue=f"pool-{uuid.uuid4().hex[:8]}",
        ollama_host="http://127.0.0.1:9",  # nothing there: every call must go to a pool
        ollama_hosts=[c.url, d.url],
        auto_start_llm=False,
        auto_start_temporal=False,
        data_dir=tmp / "data",
    )
    client = GleitzeitClient(mode="native", settings=settings, native_config={"worker": "always"})
    await client.start()
    try:
        yield PoolStack(client, a, b, e, c, d, tmp)
    finally:
        await client.close()
        for double in doubles:
            await asyncio.to_thread(double.stop)


def _pipeline(tmp: Path, name: str, tasks: list[dict[str, Any]], pool: dict[str, Any] | None = None) -> Path:
    doc: dict[str, Any] = {"name": name, "tasks": tasks}
    if pool is not None:
        doc["providers"] = {"ollama_pool": pool}
    path = tmp / f"{name}.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def _chat(i: int, model: str = "smollm2:135m", **extra: Any) -> dict[str, Any]:
    return {
        "id": f"ask{i}",
        "method": "llm/chat",
        "parameters": {"model": model, "messages": [{"role": "user", "content": f"question {i}"}], **extra},
        "retry": {"max_attempts": 5, "base_delay": 0.2, "backoff": "fixed"},
    }


def _instance(id_: str, double: OllamaDouble, max_concurrent: int, **extra: Any) -> dict[str, Any]:
    return {"id": id_, "url": double.url, "max_concurrent": max_concurrent, **extra}


async def test_a_fan_out_uses_both_hosts_and_keeps_each_under_its_cap(stack: PoolStack) -> None:
    a, b = stack.a, stack.e
    for double in (a, b):
        double.reset()
        double.peak_in_flight = 0
        double.latency(400)  # long enough that every slot fills, even on a loaded machine
    pool = {
        "instances": [
            _instance("alpha", a, 3, tags=["cpu"]),
            _instance("beta", b, 2, models=["smollm2:135m"]),
        ],
        "load_balancing": {"strategy": "least_loaded"},
    }
    path = _pipeline(stack.tmp, "fanout", [_chat(i) for i in range(20)], pool)
    results = await stack.client.run_workflow(path, timeout=120)
    served = Counter(results[f"ask{i}"]["host"] for i in range(20))
    assert set(served) == {"alpha", "beta"}, served
    assert sum(served.values()) == 20
    assert results["ask3"]["response"] == "echo: question 3"
    assert results["ask3"]["host_url"] in (a.url, b.url)
    # max_concurrent per host, across the whole worker: reached, never passed.
    assert a.peak_in_flight == 3 and b.peak_in_flight <= 2, (a.peak_in_flight, b.peak_in_flight)
    assert len(a.calls("/api/chat")) == served["alpha"] and len(b.calls("/api/chat")) == served["beta"]


async def test_routing_is_model_aware_and_follows_tags(stack: PoolStack) -> None:
    a, b = stack.a, stack.b
    pool = {
        "instances": [_instance("alpha", a, 4, tags=["cpu"]), _instance("beta", b, 4, tags=["gpu"])],
        "load_balancing": {"strategy": "round_robin"},
    }
    tasks = [_chat(i) for i in range(4)] + [_chat(i, "other:1b") for i in range(4, 8)]
    tasks.append(_chat(8, require_gpu=True, model="other:1b"))
    results = await stack.client.run_workflow(_pipeline(stack.tmp, "models", tasks, pool), timeout=120)
    assert [results[f"ask{i}"]["host"] for i in range(4)] == ["alpha"] * 4
    assert [results[f"ask{i}"]["host"] for i in range(4, 9)] == ["beta"] * 5
    assert {r.model for r in b.calls("/api/chat")} == {"other:1b"}

    # A model no host has: a clear, final failure naming each host and what it has.
    missing = _pipeline(stack.tmp, "missing", [_chat(0, "llama3.2:70b")], pool)
    with pytest.raises(TaskExecutionError) as failed:
        await stack.client.run_workflow(missing, timeout=60)
    text = str(failed.value)
    assert "no Ollama host of the pool has model 'llama3.2:70b'" in text
    assert "alpha" in text and "beta" in text and "other:1b" in text


async def test_a_host_killed_mid_run_loses_nothing(stack: PoolStack) -> None:
    """The worker's OLLAMA_HOSTS (c, d): d dies with calls in flight; their attempts fail, Temporal's
    next attempts go to c, and every task completes. Then status shows d down and c healthy."""
    c, d = stack.c, stack.d
    c.latency(500), d.latency(500)
    path = _pipeline(stack.tmp, "failover", [_chat(i) for i in range(12)])
    running = asyncio.ensure_future(stack.client.run_workflow(path, timeout=150))
    await until(lambda: d.in_flight >= 2, "calls in flight on the host about to die", timeout=60)
    await asyncio.to_thread(d.stop)
    results = await running
    hosts = Counter(results[f"ask{i}"]["host"] for i in range(12))
    assert sum(hosts.values()) == 12
    c_id = c.url.split("://", 1)[1]
    d_id = d.url.split("://", 1)[1]
    # d took calls it never answered (it died under them): they were answered by c on a later
    # attempt; nothing answered twice.
    assert len(d.calls("/api/chat")) > hosts[d_id]
    assert hosts[c_id] >= 12 - hosts[d_id] and len(c.calls("/api/chat")) == hosts[c_id]
    assert all(results[f"ask{i}"]["response"] == f"echo: question {i}" for i in range(12))

    status = await stack.client.get_status()
    by_id = {h["id"]: h for h in status["ollama"]["hosts"]}
    assert by_id[c_id]["healthy"] is True and by_id[c_id]["served"] >= hosts[c_id]
    assert by_id[d_id]["healthy"] is False and by_id[d_id]["failures"] >= 1
    assert by_id[c_id]["active"] == 0 and "smollm2:135m" in by_id[c_id]["models"]
    assert status["ollama"]["available"] is True
