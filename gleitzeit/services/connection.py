"""Connecting to Temporal with the data converter every part of Gleitzeit must share."""

from __future__ import annotations

from temporalio.client import Client
from temporalio.contrib.pydantic import pydantic_data_converter

from gleitzeit.config import Settings
from gleitzeit.core.errors import TemporalUnavailableError
from gleitzeit.worker.telemetry import tracing_interceptors

__all__ = ["connect"]


async def connect(settings: Settings) -> Client:
    """A Temporal client for settings.temporal_address / namespace (pydantic payloads)."""
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
