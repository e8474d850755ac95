"""The worker's HTTP endpoint: ``/metrics`` for Prometheus and ``/healthz`` for health checks.

``gleitzeit worker --metrics-port 9464`` serves both on one port from a small thread (stdlib
``ThreadingHTTPServer``), so a scrape never waits on the worker's event loop. ``/healthz`` answers
200 when the worker is healthy, 503 otherwise, with a JSON body that says why:

- ``running``: the Temporal worker has started and is not shutting down;
- ``polling``: the SDK has pollers outstanding on the workflow and the activity task queue
  (its ``temporal_num_pollers`` gauge) - a worker that lost Temporal keeps none;
- ``loop_lag_seconds``: how long ago the event loop last ticked; a loop blocked for over
  ``STALL_AFTER`` seconds runs no activity, so the worker counts as unhealthy;
- ``slots``: the SDK's task slots, available and used, per worker type (workflow, activity).

Compose's health check, ``gleitzeit status --worker-health URL`` and ``GLEITZEIT_WORKER_HEALTH_URLS``
(the workers part of every status answer) read it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from prometheus_client.parser import text_string_to_metric_families

from gleitzeit.activities.ollama_pool import pool_status
from gleitzeit.worker.telemetry import SdkMetricsCollector

__all__ = ["STALL_AFTER", "HealthServer", "LoopWatch", "fetch_worker_health", "worker_health"]

# The loop ticks every second; a loop silent for this long is stuck (an activity blocking it).
STALL_AFTER = 30.0
_TICK = 1.0


class LoopWatch:
    """Records when the event loop last ran; ``lag`` is read from any thread."""

    def __init__(self) -> None:
        self.last_tick = time.monotonic()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while True:
            self.last_tick = time.monotonic()
            await asyncio.sleep(_TICK)

    def lag(self) -> float:
        return max(0.0, time.monotonic() - self.last_tick)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


def _sdk_gauges(sdk: SdkMetricsCollector) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Pollers by poller type and slots by worker type, from the SDK's own metrics."""
    pollers: dict[str, float] = {}
    slots: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(sdk.text()):
        for sample in family.samples:
            if sample.name == "temporal_num_pollers":
                kind = sample.labels.get("poller_type", "")
                pollers[kind] = pollers.get(kind, 0.0) + sample.value
            elif sample.name in ("temporal_worker_task_slots_available", "temporal_worker_task_slots_used"):
                kind = sample.labels.get("worker_type", "")
                key = sample.name.rsplit("_", 1)[1]
                slots.setdefault(kind, {})[key] = slots.get(kind, {}).get(key, 0.0) + sample.value
    return pollers, slots


def worker_health(
    is_running: Callable[[], bool], loop: LoopWatch, sdk: SdkMetricsCollector
) -> dict[str, Any]:
    """The health report ``/healthz`` serves (``healthy`` decides 200 or 503)."""
    report: dict[str, Any] = {"running": is_running(), "loop_lag_seconds": round(loop.lag(), 3)}
    try:
        pollers, slots = _sdk_gauges(sdk)
    except OSError as exc:
        pollers, slots = {}, {}
        report["error"] = f"SDK metrics unreadable: {exc}"
    report["pollers"] = pollers
    report["slots"] = slots
    workflow = pollers.get("workflow_task", 0) + pollers.get("sticky_workflow_task", 0)
    report["polling"] = workflow > 0 and pollers.get("activity_task", 0) > 0
    report["healthy"] = report["running"] and report["polling"] and loop.lag() < STALL_AFTER
    hosts = _pool_load()
    if hosts:
        report["ollama_hosts"] = hosts
    return report


def _pool_load() -> dict[str, Any]:
    """Calls in flight per Ollama host of the pool (none without one); read from the server's thread
    while the worker's loop changes it, so a changed-while-read dict gives this beat nothing."""
    try:
        return pool_status()
    except RuntimeError:
        return {}


class HealthServer:
    """``/metrics`` and ``/healthz`` on ``host:port`` in a daemon thread."""

    def __init__(self, host: str, port: int, health: Callable[[], dict[str, Any]]) -> None:
        handler = _handler(health)
        self._server = ThreadingHTTPServer((host, port), handler)
        self._server.daemon_threads = True
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="gleitzeit-metrics", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _handler(health: Callable[[], dict[str, Any]]) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                encoder, content_type = choose_encoder(self.headers.get("Accept", ""))
                self._send(200, content_type, encoder(REGISTRY))
            elif path in ("/healthz", "/health"):
                report = health()
                body = json.dumps(report).encode()
                self._send(200 if report.get("healthy") else 503, "application/json", body)
            else:
                self._send(404, "text/plain", b"not found: try /metrics or /healthz\n")

        def _send(self, code: int, content_type: str, body: bytes) -> None:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # a scrape every 15 s per worker is not news

    return Handler


async def fetch_worker_health(urls: Sequence[str], timeout: float = 3.0) -> list[dict[str, Any]]:
    """Each worker's ``/healthz`` report (a bare ``host:port`` gets ``http://`` and ``/healthz``).

    A worker that does not answer is reported unhealthy with the reason, never raised: status
    commands show every worker they were asked about.
    """
    import httpx

    async def one(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
        target = url if "://" in url else f"http://{url}"
        if not target.rstrip("/").endswith(("/healthz", "/health")):
            target = target.rstrip("/") + "/healthz"
        try:
            answer = await http.get(target)
            report = dict(answer.json())
        except (httpx.HTTPError, ValueError) as exc:
            return {"url": target, "healthy": False, "error": str(exc) or type(exc).__name__}
        return {"url": target, **report}

    async with httpx.AsyncClient(timeout=timeout) as http:
        return list(await asyncio.gather(*(one(http, u) for u in urls)))
