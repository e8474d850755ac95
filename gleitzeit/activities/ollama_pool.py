"""Several Ollama hosts behind the LLM activities: which host a call goes to, and how many calls each
host has at once, across the whole worker.

One ``OllamaPool`` per ``LlmActivities`` (so per worker); it keeps, per host URL, the calls in flight,
the models the host's ``/api/tags`` lists, and whether it answered last time. A call leases a host
(``lease``): the hosts that have the call's model and tags, healthy, with a free slot under their
``max_concurrent``, picked by the strategy; when all are busy the call waits for a slot (a condition,
woken on every release, so it takes whichever host frees first).

Failover is Temporal's: a host that fails a call (dropped connection, timeout, 5xx) is marked down
for ``health_check_interval`` seconds and the attempt fails retryable, naming the host; the task's
next attempt leases another host. No retry loop here. A down host comes back when a probe of its
``/api/tags`` answers; the probe runs in the background once the interval has passed (inline only when
every host a call could use is down).

Nothing here runs when no pool is configured: the single-host path of the activities is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
import time
import weakref
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pydantic

from gleitzeit.activities.common import non_retryable, retryable
from gleitzeit.config import Settings
from gleitzeit.contracts.mcp import expand_env
from gleitzeit.core.ollama_pool import OllamaPoolConfig, PoolInstance

__all__ = ["HostLease", "OllamaPool", "pool_status"]

# A health probe (GET /api/tags) gives up after this long: a host that slow is no use to a call.
PROBE_TIMEOUT = 5.0
# Building an SSL context costs milliseconds (tens on a busy machine); build it once.
_SSL_CONTEXT = ssl.create_default_context()
# Weight of the newest call in a host's average latency (latency_based).
_LATENCY_WEIGHT = 0.2

_pools: weakref.WeakSet[OllamaPool] = weakref.WeakSet()


def _canonical(name: str) -> str:
    return name if ":" in name else name + ":latest"


def _serves(names: set[str], model: str) -> bool:
    """Whether a host with ``names`` serves ``model``: the same name (``x`` is ``x:latest``), or an
    untagged name its family, as the embedded LLM server resolves ``smollm2`` to ``smollm2:135m``."""
    asked = _canonical(model)
    if asked in names:
        return True
    family = model.split(":", 1)[0]
    return ":" not in model and any(n.split(":", 1)[0] == family for n in names)


@dataclass
class _Host:
    """What the worker knows about one host URL (per event loop)."""

    url: str
    active: int = 0
    served: int = 0
    failures: int = 0
    healthy: bool | None = None  # None: not asked yet
    error: str | None = None
    down_until: float = 0.0
    models: set[str] | None = None  # canonical names from /api/tags; None: not known
    checked_at: float = 0.0
    lacks: set[str] = field(default_factory=set)  # models it answered 404 for
    latency: float | None = None
    interval: float = 30.0  # health_check_interval of the pool that last leased it
    probe: asyncio.Task[None] | None = None


@dataclass(frozen=True)
class HostLease:
    """The host a call was given."""

    id: str
    url: str


class _LoopState:
    def __init__(self) -> None:
        self.hosts: dict[str, _Host] = {}
        self.changed = asyncio.Condition()
        self.turn = 0


class OllamaPool:
    """The worker-wide view of the Ollama hosts; see the module docstring."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self.worker_config = settings.pool()
        self._worker_caps = {i.url: i.max_concurrent for i in (self.worker_config or _empty()).instances}
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._parsed: dict[str, OllamaPoolConfig] = {}
        _pools.add(self)

    # -- configuration ------------------------------------------------------------------------------

    def config_for(self, raw: Any) -> OllamaPoolConfig | None:
        """The pool of a task: its pipeline's block (``raw``), else the worker's; None: one host."""
        if raw is None:
            return self.worker_config
        key = repr(raw)
        config = self._parsed.get(key)
        if config is None:
            try:
                config = OllamaPoolConfig.model_validate(expand_env(raw))
            except pydantic.ValidationError as exc:
                raise non_retryable(
                    f"the pipeline's providers.ollama_pool block is invalid: {exc.errors()[0]['msg']}",
                    "InvalidParameters",
                    key="providers.ollama_pool",
                ) from None
            if len(self._parsed) > 64:  # pipelines come and go; keep the cache small
                self._parsed.clear()
            self._parsed[key] = config
        return config

    def _state(self) -> _LoopState:
        loop = asyncio.get_running_loop()
        state = self._loops.get(loop)
        if state is None:
            state = self._loops[loop] = _LoopState()
        return state

    def _host(self, state: _LoopState, url: str) -> _Host:
        host = state.hosts.get(url)
        if host is None:
            host = state.hosts[url] = _Host(url)
        return host

    def _cap(self, inst: PoolInstance) -> int:
        # The worker's own setting for a host wins over a pipeline's: it knows what the host can take.
        return self._worker_caps.get(inst.url, inst.max_concurrent)

    # -- health -------------------------------------------------------------------------------------

    async def _probe(self, host: _Host) -> None:
        """Ask the host for its models: the health check."""
        try:
            async with httpx.AsyncClient(timeout=PROBE_TIMEOUT, verify=_SSL_CONTEXT) as http:
                answer = await http.get(host.url + "/api/tags")
                answer.raise_for_status()
                names = {
                    _canonical(str(m.get("name") or m.get("model"))) for m in answer.json().get("models", [])
                }
        except (httpx.HTTPError, ValueError, OSError) as exc:
            self._mark_down(host, f"health check: {exc or type(exc).__name__}")
            return
        host.models, host.checked_at = names, time.monotonic()
        host.healthy, host.error, host.down_until = True, None, 0.0
        host.lacks -= names

    def _probe_soon(self, host: _Host) -> asyncio.Task[None]:
        """The host's probe in flight, or a new one (one at a time per host)."""
        if host.probe is None or host.probe.done():
            host.probe = asyncio.get_running_loop().create_task(self._probe(host))
        return host.probe

    def _mark_down(self, host: _Host, error: str) -> None:
        host.healthy, host.error = False, error
        host.down_until = time.monotonic() + host.interval
        host.failures += 1

    def _usable(self, host: _Host, now: float) -> bool:
        if host.healthy is False:
            if now >= host.down_until:
                self._probe_soon(host)  # back when it answers
            return False
        if host.models is not None and now - host.checked_at > host.interval:
            self._probe_soon(host)  # the periodic health check, off the call's path
        return True

    # -- leasing ------------------------------------------------------------------------------------

    async def _candidates(
        self, state: _LoopState, config: OllamaPoolConfig, model: str, tags: list[str]
    ) -> list[PoolInstance]:
        """The instances that may serve ``model`` with ``tags`` now; raises when none can."""
        tagged = [i for i in config.instances if all(t in i.tags for t in tags)]
        for i in tagged:
            self._host(state, i.url).interval = config.load_balancing.health_check_interval
        if not tagged:
            hosts = "; ".join(f"{i.id} [{', '.join(i.tags) or 'no tags'}]" for i in config.instances)
            raise non_retryable(
                f"no Ollama host of the pool has the tags {tags} (hosts: {hosts}): add the tags to an "
                "instance in providers.ollama_pool, or change the task's instance_tags / require_gpu",
                "InvalidParameters",
                key="instance_tags",
            )
        # A host whose models are not known yet is asked once (then every health_check_interval).
        now = time.monotonic()
        unknown = [
            h
            for h in (self._host(state, i.url) for i in tagged if not self._has(i, model))
            if h.models is None and (h.healthy is not False or now >= h.down_until)
        ]
        if unknown:
            await asyncio.gather(*(self._probe_soon(h) for h in unknown))
        with_model = [i for i in tagged if self._has(i, model)]
        if not with_model:
            unreachable = [i for i in tagged if self._host(state, i.url).models is None]
            listing = "; ".join(self._listing(state, i) for i in tagged)
            if unreachable:
                raise retryable(
                    f"no reachable Ollama host of the pool has model '{model}' ({listing}); "
                    "retrying in case a host comes back",
                    "LLMUnavailable",
                )
            raise non_retryable(
                f"no Ollama host of the pool has model '{model}' ({listing}): pull it on one "
                f"(`ollama pull {model}` there), list it in an instance's models, or use a model they have",
                "ModelNotFound",
                model=model,
            )
        now = time.monotonic()
        usable = [i for i in with_model if self._usable(self._host(state, i.url), now)]
        if not usable:
            # Every host that could serve it is down: ask them now rather than fail at once.
            await asyncio.gather(*(self._probe_soon(self._host(state, i.url)) for i in with_model))
            usable = [i for i in with_model if self._host(state, i.url).healthy]
            if not usable:
                listing = "; ".join(self._listing(state, i) for i in with_model)
                raise retryable(
                    f"no Ollama host of the pool that has model '{model}' answers ({listing})",
                    "LLMUnavailable",
                )
        return usable

    def _has(self, inst: PoolInstance, model: str) -> bool:
        host = self._host(self._state(), inst.url)
        if _canonical(model) in host.lacks:
            return False
        return _serves({_canonical(m) for m in inst.models}, model) or (
            host.models is not None and _serves(host.models, model)
        )

    def _listing(self, state: _LoopState, inst: PoolInstance) -> str:
        host = self._host(state, inst.url)
        if host.healthy is False:
            return f"{inst.id} at {inst.url}: down ({host.error})"
        known = sorted((host.models or set()) | {_canonical(m) for m in inst.models})
        return f"{inst.id} at {inst.url} has {', '.join(known) or 'no models'}"

    def _pick(self, state: _LoopState, free: list[PoolInstance], strategy: str, model: str) -> PoolInstance:
        hosts = {i.url: self._host(state, i.url) for i in free}

        def load(i: PoolInstance) -> float:
            return hosts[i.url].active / self._cap(i)

        if strategy == "round_robin":
            state.turn += 1
            return free[state.turn % len(free)]
        if strategy == "random":
            return random.choice(free)
        if strategy == "weighted":
            return random.choices(free, weights=[i.weight for i in free])[0]
        if strategy == "latency_based":
            return min(free, key=lambda i: (hosts[i.url].latency or 0.0, load(i)))
        if strategy == "model_affinity":
            loaded = [i for i in free if _serves(hosts[i.url].models or set(), model)]
            return min(loaded or free, key=load)
        return min(free, key=load)  # least_loaded

    @contextlib.asynccontextmanager
    async def lease(
        self, config: OllamaPoolConfig, model: str, strategy: str | None, tags: list[str]
    ) -> AsyncIterator[HostLease]:
        """A host for one call, held until the block ends (its slot under ``max_concurrent``)."""
        state = self._state()
        strategy = strategy or config.load_balancing.strategy
        while True:
            # Outside the lock: a first look at a host's models is a round trip.
            candidates = await self._candidates(state, config, model, tags)
            async with state.changed:
                free = [i for i in candidates if self._host(state, i.url).active < self._cap(i)]
                if free:
                    chosen = self._pick(state, free, strategy, model)
                    host = self._host(state, chosen.url)
                    host.active += 1
                    break
                await state.changed.wait()  # woken by every release
        started = time.monotonic()
        ok = False
        try:
            yield HostLease(chosen.id, chosen.url)
            ok = True
        finally:
            host.active -= 1
            if ok:
                host.served += 1
                took = time.monotonic() - started
                host.latency = (
                    took
                    if host.latency is None
                    else ((1 - _LATENCY_WEIGHT) * host.latency + _LATENCY_WEIGHT * took)
                )
            async with state.changed:
                state.changed.notify_all()

    def failed(self, lease: HostLease, error: str) -> None:
        """The host failed a call in a way another host may not (connection, timeout, 5xx): down."""
        self._mark_down(self._host(self._state(), lease.url), error)

    def lacks(self, lease: HostLease, model: str) -> None:
        """The host answered 404 for ``model``: do not send it that model again until it lists it."""
        self._host(self._state(), lease.url).lacks.add(_canonical(model))

    def others_have(self, config: OllamaPoolConfig, lease: HostLease, model: str) -> bool:
        return any(i.url != lease.url and self._has(i, model) for i in config.instances)

    # -- status -------------------------------------------------------------------------------------

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per host URL: calls in flight, served, failures, health and models, over every loop."""
        out: dict[str, dict[str, Any]] = {}
        for state in list(self._loops.values()):
            for url, h in state.hosts.items():
                entry = out.setdefault(url, {"active": 0, "served": 0, "failures": 0})
                entry["active"] += h.active
                entry["served"] += h.served
                entry["failures"] += h.failures
                if h.healthy is not None:
                    entry["healthy"] = h.healthy
                if h.error:
                    entry["error"] = h.error
        return out


def _empty() -> OllamaPoolConfig:
    return OllamaPoolConfig.model_construct(instances=[])


def pool_status() -> dict[str, dict[str, Any]]:
    """The load of every host the pools of this process lease (the in-process worker's), by URL."""
    out: dict[str, dict[str, Any]] = {}
    for pool in list(_pools):
        for url, entry in pool.snapshot().items():
            merged = out.setdefault(url, {"active": 0, "served": 0, "failures": 0})
            for k in ("active", "served", "failures"):
                merged[k] += entry[k]
            for k in ("healthy", "error"):
                if k in entry:
                    merged[k] = entry[k]
    return out
