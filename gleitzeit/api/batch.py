"""``/v1/batch``: start a durable batch over a directory, and read back every file's result."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request

from gleitzeit.api.deps import backend_of, guard_of
from gleitzeit.api.schemas import BatchRequest, RunInfo
from gleitzeit.api.workflows import run_info
from gleitzeit.contracts.batch import BatchInput
from gleitzeit.core.errors import ValidationError

__all__ = ["router"]

router = APIRouter(prefix="/v1/batch", tags=["batch"])


@router.post("", status_code=201, response_model=RunInfo, summary="Start a batch (poll /v1/workflows/{id})")
async def start_batch(body: BatchRequest, request: Request) -> RunInfo:
    backend = backend_of(request)
    guard = guard_of(request)
    directory = guard.check(body.directory, "batch directory")
    output_dir = guard.check(body.output_dir, "output_dir") if body.output_dir else None
    parameters = dict(body.parameters)
    if isinstance(parameters.get("model"), str):
        parameters["model"] = await backend.resolve_model(parameters["model"])
    fields = body.model_dump(exclude={"workflow_id"})
    fields.update(directory=directory, output_dir=output_dir, parameters=parameters, base_dir=str(guard.base))
    inp = BatchInput(**fields)
    run = await backend.start_batch(inp, workflow_id=body.workflow_id)
    return run_info(run)


@router.get("/{workflow_id}/results", summary="Every file's result of a finished batch: {file: result}")
async def batch_results(workflow_id: str, request: Request, wait: float = Query(0.0, ge=0)) -> dict[str, Any]:
    backend = backend_of(request)
    run = await backend.get_workflow(workflow_id)
    if run.kind != "batch":
        raise ValidationError(f"'{workflow_id}' is not a batch")
    execution = await run.result(min(wait, 30.0) if wait else None)
    return {
        "results": await backend.batch_results(execution),
        "errors": {k: r.error for k, r in execution.results.items() if r.error},
    }
