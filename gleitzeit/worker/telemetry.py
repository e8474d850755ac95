"""The Temporal SDK's runtime metrics in Gleitzeit's registry, and optional OpenTelemetry tracing.

The SDK's Rust core exposes its metrics (slots, pollers, poll and schedule-to-start latency, request
counts) only through its own Prometheus listener (``PrometheusConfig`` on a ``Runtime``). To serve
them on *one* port with ours, ``install_sdk_metrics`` points that listener at a free loopback port
and registers ``SdkMetricsCollector``, which reads it on every scrape and hands the families to
prometheus_client: ``/metrics`` of the worker and of the API then carry both, and the worker's health
check reads the SDK's pollers and slots from the same place. The runtime must be the process'
default before its first Temporal client exists (the SDK binds clients to the runtime they start on).
"""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator
from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from temporalio.runtime import PrometheusConfig, Runtime, TelemetryConfig

from gleitzeit.core.errors import ConfigurationError

__all__ = ["SdkMetricsCollector", "install_sdk_metrics", "sdk_metrics_url", "tracing_interceptors"]

# A scrape waits at most this long for the SDK's listener (it answers from memory in ~1 ms).
_SCRAPE_TIMEOUT = 2.0
_installed: SdkMetricsCollector | None = None


class SdkMetricsCollector(Collector):
    """Re-exposes the SDK's Prometheus listener (on loopback) through a prometheus_client registry."""

    def __init__(self, url: str) -> None:
        self.url = url

    def text(self) -> str:
        with urllib.request.urlopen(self.url, timeout=_SCRAPE_TIMEOUT) as answer:  # noqa: S310 (loopback)
            return str(answer.read().decode())

    def collect(self) -> Iterator[Metric]:
        try:
            text = self.text()
        except OSError:
            return  # the SDK's listener is not up yet (or gone at exit): our own metrics still answer
        yield from text_string_to_metric_families(text)


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def install_sdk_metrics() -> SdkMetricsCollector:
    """Make a Runtime with the SDK's Prometheus metrics the process' default (once; later calls reuse it).

    Durations in seconds and ``_total`` on counters, as Prometheus names them. Call before the
    process connects to Temporal.
    """
    global _installed
    if _installed is not None:
        return _installed
    address = f"127.0.0.1:{_free_loopback_port()}"
    runtime = Runtime(
        telemetry=TelemetryConfig(
            metrics=PrometheusConfig(
                bind_address=address, counters_total_suffix=True, durations_as_seconds=True
            )
        )
    )
    Runtime.set_default(runtime, error_if_already_set=False)
    _installed = SdkMetricsCollector(f"http://{address}/metrics")
    REGISTRY.register(_installed)
    return _installed


def sdk_metrics_url() -> str | None:
    """Where this process' SDK metrics are read from, when ``install_sdk_metrics`` ran."""
    return _installed.url if _installed is not None else None


def tracing_interceptors(enabled: bool) -> list[Any]:
    """``[TracingInterceptor()]`` when tracing is on: spans for starts, workflows and activities.

    The spans go to OpenTelemetry's global tracer provider, which the operator configures (e.g. the
    ``opentelemetry-instrument`` wrapper with ``OTEL_EXPORTER_OTLP_ENDPOINT``); Gleitzeit adds no
    exporter of its own. Off by default: the SDK's contrib module needs ``opentelemetry-sdk``.
    """
    if not enabled:
        return []
    try:
        from temporalio.contrib.opentelemetry import TracingInterceptor
    except ImportError as exc:
        raise ConfigurationError(
            f"GLEITZEIT_TRACING=true needs OpenTelemetry ({exc}): pip install opentelemetry-sdk "
            "opentelemetry-exporter-otlp, or set GLEITZEIT_TRACING=false"
        ) from None
    return [TracingInterceptor()]
