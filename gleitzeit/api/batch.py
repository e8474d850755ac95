"""``/v1/batch``: start a durable batch over a directory, and read back every file's result."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from gleitzeit.api.deps import backend_of, guard_of
from gleitzeit.api.errors import BODY_ERRORS, error_responses
from gleitzeit.api.schemas import BatchRequest, ResultPending, RunInfo
from gleitzeit.api.workflows import MAX_RESULT_WAIT, run_info
from gleitzeit.contracts.batch import BatchInput
from gleitzeit.core.errors import NotFoundError, ValidationError

__all__ = ["router"]

router = APIRouter(prefix="/v1/batch", tags=["batch"])


@router.post(
    "",
    status_code=201,
    response_model=RunInfo,
    responses=error_responses(*BODY_ERRORS, 403, 404),
    summary="Start a batch (poll /v1/workflows/{id})",
)
async def start_batch(body: BatchRequest, request: Request) -> RunInfo:
    backend = backend_of(request)
    guard = guard_of(request)
    directory = guard.check(body.directory, "batch directory")
    output_dir = guard.check(body.output_dir, "output_dir") if body.output_dir else None
    # Said now (404), not by the batch failing later when its worker lists the directory.
    if not os.path.isdir(directory):
        raise NotFoundError(f"batch directory '{body.directory}' not found (looked at {directory})")
    parameters = dict(body.parameters)
    if isinstance(parameters.get("model"), str):
        parameters["model"] = await backend.resolve_model(parameters["model"])
    fields = body.model_dump(exclude={"workflow_id"})
    fields.update(directory=directory, output_dir=output_dir, parameters=parameters, base_dir=str(guard.base))
    inp = BatchInput(**fields)
    run = await backend.start_batch(inp, workflow_id=body.workflow_id)
    return run_info(run)


@router.get(
    "/{workflow_id}/results",
    response_model=None,
    responses={
        200: {"description": "{results: {file: result}, errors: {file: error}}"},
        202: {"model": ResultPending, "description": "still running after `wait` seconds: ask again"},
        **error_responses(404, 424),
    },
    summary="Every file's result of a finished batch: {file: result}",
)
async def batch_results(
    workflow_id: str, request: Request, response: Response, wait: float = Query(0.0, ge=0)
) -> Any:
    backend = backend_of(request)
    run = await backend.get_workflow(workflow_id)
    if run.kind != "batch":
        raise ValidationError(f"'{workflow_id}' is not a batch")
    # As /v1/workflows/{id}/result: a batch still running after `wait` is 202, not an error.
    try:
        done = await run._wait_result(min(wait, MAX_RESULT_WAIT))
    finally:
        run._abandon()
    if done is None:
        response.status_code = 202
        return ResultPending(workflow_id=workflow_id)
    execution = done
    return {
        "results": await backend.batch_results(execution),
        "errors": {k: r.error for k, r in execution.results.items() if r.error},
    }
