"""Operations endpoints: ``GET /metrics`` (Prometheus) and ``GET /v1/ready`` (readiness).

Neither needs the API token: Prometheus and an orchestrator's probe carry none, and neither reveals
a run's data. ``/v1/health`` (liveness, in status.py) says the process answers; ``/v1/ready`` says it
can take work: the backend has started and Temporal answers a ``GetSystemInfo`` within a few seconds.
``/metrics`` is prometheus_client's default registry: the process, Gleitzeit's families
(gleitzeit.core.metrics, recorded when this process runs a worker) and, under ``gleitzeit serve``,
the Temporal SDK's client metrics (gleitzeit.worker.telemetry).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import REGISTRY
from prometheus_client.exposition import choose_encoder
from temporalio.api.workflowservice.v1 import GetSystemInfoRequest

from gleitzeit.api.errors import error_responses

__all__ = ["READY_TIMEOUT", "router"]

READY_TIMEOUT = 3.0

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Prometheus metrics (no token needed)",
    response_class=Response,
    responses={
        200: {"content": {"text/plain": {}}, "description": "Prometheus text exposition format"},
        **error_responses(500),
    },
)
async def metrics(request: Request) -> Response:
    encoder, content_type = choose_encoder(request.headers.get("accept", ""))
    # Collecting reads the SDK's loopback listener (blocking I/O): off the event loop.
    body = await asyncio.to_thread(encoder, REGISTRY)
    return Response(body, media_type=content_type)


@router.get(
    "/v1/ready",
    summary="Readiness: Temporal reachable (no token needed)",
    responses={
        503: {"description": "not ready: still starting, or Temporal does not answer (`reason`)"},
        **error_responses(500),
    },
)
async def ready(request: Request) -> Any:
    backend = getattr(request.app.state, "backend", None)
    settings = request.app.state.settings
    answer: dict[str, Any] = {"ready": False, "temporal": settings.temporal_address}
    if backend is None:
        answer["reason"] = "starting (Temporal access comes up first)"
        return JSONResponse(answer, status_code=503)
    try:
        client = backend.client  # raises while not connected
        await asyncio.wait_for(client.workflow_service.get_system_info(GetSystemInfoRequest()), READY_TIMEOUT)
    except Exception as exc:
        answer["reason"] = f"Temporal does not answer: {exc or type(exc).__name__}"
        return JSONResponse(answer, status_code=503)
    answer["ready"] = True
    return answer
