"""Connecting to Temporal with the data converter every part of Gleitzeit must share.

``forward_core_logs`` sends the SDK core's own log lines (Rust; by default printed to *stdout*, where
they broke ``gleitzeit run --json``) to the Python logger ``temporalio.core``, which writes to stderr
like every other log line; ``connect`` and the CLI's entry point call it before any client exists.
"""

from __future__ import annotations

import logging

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.runtime import LogForwardingConfig, LoggingConfig, Runtime, TelemetryConfig, TelemetryFilter

from gleitzeit.config import Settings
from gleitzeit.core.errors import TemporalUnavailableError
from gleitzeit.worker.telemetry import tracing_interceptors

__all__ = ["connect", "forward_core_logs"]

_forwarding = False


def forward_core_logs() -> None:
    """Make the SDK's default runtime log through Python logging (stderr), once per process.

    A no-op when a runtime already exists (a test environment made one): it keeps its own settings.
    """
    global _forwarding
    if _forwarding:
        return
    _forwarding = True
    logging_config = LoggingConfig(
        filter=TelemetryFilter(core_level="WARN", other_level="ERROR"),
        forwarding=LogForwardingConfig(logger=logging.getLogger("temporalio.core")),
    )
    try:
        Runtime.set_default(Runtime(telemetry=TelemetryConfig(logging=logging_config)))
    except RuntimeError:
        pass  # already set or created: leave it


async def connect(settings: Settings) -> Client:
    """A Temporal client for settings.temporal_address / namespace (pydantic payloads)."""
    forward_core_logs()
    try:
        return await Client.connect(
            settings.temporal_address,
            namespace=settings.namespace,
            data_converter=pydantic_data_converter,
            # Client interceptors that are also worker interceptors apply to this client's workers too.
            interceptors=tracing_interceptors(settings.tracing),
        )
    except RuntimeError as exc:  # the SDK reports connection failures as RuntimeError
        raise TemporalUnavailableError(
            f"cannot connect to Temporal at {settings.temporal_address}: {exc} "
            "(start one with `gleitzeit dev`, or set GLEITZEIT_TEMPORAL_ADDRESS)"
        ) from exc
