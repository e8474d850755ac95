"""``/v1/health``, ``/v1/status``, and the one-task endpoints ``/v1/tasks`` and ``/v1/scripts``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from gleitzeit.api.deps import backend_of, guard_of
from gleitzeit.api.errors import BODY_ERRORS, error_responses
from gleitzeit.api.schemas import ScriptRequest, ScriptResponse, TaskRequest
from gleitzeit.core.models import TaskResult
from gleitzeit.core.version import __version__

__all__ = ["health_router", "router"]

health_router = APIRouter(tags=["status"])
router = APIRouter(prefix="/v1", tags=["status"])


@health_router.get("/v1/health", responses=error_responses(500), summary="Liveness (no token needed)")
async def health() -> dict[str, Any]:
    return {"status": "ok", "service": "gleitzeit", "version": __version__}


@router.get("/status", summary="Temporal, workers, LLM server and Docker")
async def status(request: Request) -> dict[str, Any]:
    answer = await backend_of(request).get_status()
    settings = request.app.state.settings
    answer["api"] = {
        "available": True,
        "version": __version__,
        "auth": bool(settings.api_token),
        "file_roots": [str(r) for r in guard_of(request).roots],
    }
    return answer


@router.post(
    "/tasks",
    response_model=TaskResult,
    responses=error_responses(*BODY_ERRORS, 403, 404, 424, 504),
    summary="Run one task durably and return its result",
)
async def execute_task(body: TaskRequest, request: Request) -> TaskResult:
    from gleitzeit.client.specs import task_spec

    guard = guard_of(request)
    spec, _ = task_spec(body.task, base_dir=str(guard.base))
    guard.check_spec(spec)
    return await backend_of(request).execute_task(body.task, base_dir=str(guard.base))


@router.post(
    "/scripts",
    response_model=ScriptResponse,
    responses=error_responses(*BODY_ERRORS, 403, 404, 424, 504),
    summary="Run a Python script durably; its JSON result",
)
async def execute_script(body: ScriptRequest, request: Request) -> ScriptResponse:
    guard = guard_of(request)
    path = guard.check(body.script, "script")
    outputs_dir = body.outputs_dir
    if isinstance(outputs_dir, str):
        outputs_dir = guard.check(outputs_dir, "outputs_dir")
    result = await backend_of(request).execute_python_script(path, body.args, body.timeout, outputs_dir)
    return ScriptResponse(result=result)
