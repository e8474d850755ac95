"""The Ollama hosts of a pool for ``get_status()``: health asked now (each host's ``/api/tags``, all at
once), load as the workers report it (the in-process worker's pool, and the ``ollama_hosts`` of the
health reports of ``gleitzeit worker --metrics-port``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import httpx

from gleitzeit.activities.ollama_pool import pool_status
from gleitzeit.core.ollama_pool import OllamaPoolConfig, PoolInstance

__all__ = ["hosts_status"]


async def _host(http: httpx.AsyncClient, inst: PoolInstance, load: dict[str, Any]) -> dict[str, Any]:
    info: dict[str, Any] = {
        "id": inst.id,
        "url": inst.url,
        "healthy": False,
        "tags": list(inst.tags),
        "max_concurrent": inst.max_concurrent,
        "active": load.get("active", 0),
        "served": load.get("served", 0),
        "failures": load.get("failures", 0),
        "models": list(inst.models),
    }
    try:
        answer = await http.get(inst.url + "/api/tags")
        answer.raise_for_status()
        listed = [str(m.get("name") or m.get("model")) for m in answer.json().get("models", [])]
        info["models"] = sorted(set(inst.models) | set(listed))
        info["healthy"] = True
    except (httpx.HTTPError, ValueError) as exc:
        info["error"] = str(exc) or type(exc).__name__
    return info


async def hosts_status(
    pool: OllamaPoolConfig, reports: Sequence[dict[str, Any]], timeout: float
) -> list[dict[str, Any]]:
    """One entry per host: id, url, healthy (it answered now), models, tags, max_concurrent and the
    calls in flight (``active``), ``served`` and ``failures`` summed over the workers that report."""
    loads: list[dict[str, dict[str, Any]]] = [pool_status()]
    loads += [r.get("ollama_hosts") or {} for r in reports]
    merged: dict[str, dict[str, Any]] = {}
    for load in loads:
        for url, entry in load.items():
            into = merged.setdefault(url, {"active": 0, "served": 0, "failures": 0})
            for key in ("active", "served", "failures"):
                into[key] += int(entry.get(key, 0))
    async with httpx.AsyncClient(timeout=timeout) as http:
        return list(await asyncio.gather(*(_host(http, i, merged.get(i.url, {})) for i in pool.instances)))
