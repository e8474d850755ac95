"""``/v1/workflows``: start, list, inspect, wait for, cancel, answer approvals of and read the logs of runs."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from gleitzeit.api.deps import backend_of, guard_of, settings_of
from gleitzeit.api.errors import BODY_ERRORS, error_responses
from gleitzeit.api.limits import MAX_PIPELINE_BYTES
from gleitzeit.api.schemas import (
    ApprovalRequest,
    ResultPending,
    ResumeRequest,
    ResumeResponse,
    RunInfo,
    WorkflowRequest,
)
from gleitzeit.client.native_run import NativeRun
from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import NotFoundError, Problem, ValidationError
from gleitzeit.core.models import LogEvent, WorkflowExecution, WorkflowSummary

__all__ = ["MAX_RESULT_WAIT", "router"]

router = APIRouter(prefix="/v1/workflows", tags=["workflows"])

# One request waits at most this long for a result; clients ask again (long polling).
MAX_RESULT_WAIT = 30.0


def load_request_spec(body: WorkflowRequest, request: Request) -> WorkflowSpec:
    """The request's workflow, validated, with every file it names inside the server's roots."""
    from gleitzeit.dsl import expand_batch, load_workflow, load_workflow_text

    guard = guard_of(request)
    given = [k for k in ("path", "yaml", "spec") if getattr(body, k) is not None]
    if len(given) != 1:
        raise ValidationError(
            problems=[
                Problem(
                    "give exactly one of 'path', 'yaml' or 'spec'"
                    + (f" (got {', '.join(given)})" if given else ""),
                    key="path|yaml|spec",
                    code="missing-key" if not given else "conflicting-parameters",
                )
            ]
        )
    # The client sends its working directory; when that is not inside the roots (a client on
    # another machine or elsewhere on this one), relative files resolve against the first root.
    base_dir = guard.allowed(body.base_dir) if body.base_dir else None
    base_dir = base_dir or str(guard.base)
    limit = min(MAX_PIPELINE_BYTES, settings_of(request).max_pipeline_bytes)
    if body.path is not None:
        full = guard.check(body.path, "workflow file")
        # A Path, never a str: a name that is no file must not be read as YAML text; one that does not
        # exist is a 404 naming where it was looked for.
        if not os.path.isfile(full):
            raise NotFoundError(f"workflow file '{body.path}' not found (looked at {full})")
        spec = load_workflow(Path(full), max_bytes=limit)
    elif body.yaml is not None:
        spec = load_workflow_text(body.yaml, body.filename, base_dir=base_dir, max_bytes=limit)
    else:
        spec = load_workflow(body.spec or {}, base_dir=base_dir, max_bytes=limit)
    if spec.batch is not None:
        guard.check_spec(spec)  # the directory, before it is listed
        spec = expand_batch(spec)
    guard.check_spec(spec)
    return spec


def run_info(run: NativeRun, status: str = "running") -> RunInfo:
    return RunInfo(
        workflow_id=run.workflow_id, run_id=run.run_id, kind=run.kind, status=status, web_url=run.web_url
    )


@router.post(
    "",
    response_model=None,
    status_code=201,
    responses={
        200: {"model": WorkflowExecution, "description": "with wait: the finished run"},
        201: {"model": RunInfo, "description": "the run started"},
        **error_responses(*BODY_ERRORS, 403, 404, 424, 504),
    },
    summary="Start a workflow (or run it and wait)",
)
async def start_workflow(body: WorkflowRequest, request: Request, response: Response) -> Any:
    backend = backend_of(request)
    # In a worker thread: parsing a large pipeline must not stop the server answering (/v1/health).
    spec = await run_in_threadpool(load_request_spec, body, request)
    run = await backend.start_spec(spec, body.inputs, workflow_id=body.workflow_id)
    if not body.wait:
        return run_info(run)
    response.status_code = 200
    return await run.result(body.timeout)


@router.get("", response_model=list[WorkflowSummary], summary="Recent runs, newest first")
async def list_workflows(
    request: Request,
    limit: int = Query(20, ge=1, le=1000),
    query: str | None = Query(
        None, description="a Temporal visibility query, e.g. ExecutionStatus='Running'"
    ),
) -> list[WorkflowSummary]:
    return await backend_of(request).list_workflows(limit, query)


@router.get(
    "/{workflow_id}",
    response_model=RunInfo,
    responses=error_responses(404),
    summary="A run's kind and status, and whether it waits for a worker",
)
async def get_workflow(workflow_id: str, request: Request) -> RunInfo:
    run = await backend_of(request).get_workflow(workflow_id)
    info = run_info(run, (await run.status()).value)
    if info.status == "running":
        info.message = await run.waiting_for_worker()
        info.waiting_for_worker = info.message is not None
        if not info.waiting_for_worker:  # no worker, no answer to a query: it would block for long
            info.waiting = await run.waiting_tasks()
    return info


@router.get(
    "/{workflow_id}/progress",
    responses=error_responses(404),
    summary="Task-by-task progress (counters for a batch)",
)
async def get_progress(workflow_id: str, request: Request) -> dict[str, Any]:
    run = await backend_of(request).get_workflow(workflow_id)
    progress = await run.progress()
    return {"kind": run.kind, "progress": progress.model_dump(mode="json")}


@router.get(
    "/{workflow_id}/result",
    response_model=None,
    responses={
        200: {"model": WorkflowExecution},
        202: {"model": ResultPending},
        **error_responses(404, 424, 504),
    },
    summary="The run's result; waits up to `wait` seconds (202 while it is still running)",
)
async def get_result(
    workflow_id: str, request: Request, response: Response, wait: float = Query(0.0, ge=0)
) -> Any:
    run = await backend_of(request).get_workflow(workflow_id)
    try:
        done = await run._wait_result(min(wait, MAX_RESULT_WAIT))
    finally:
        run._abandon()
    if done is None:
        response.status_code = 202
        return ResultPending(workflow_id=workflow_id)
    return done


@router.post(
    "/{workflow_id}/cancel",
    status_code=202,
    response_model=RunInfo,
    responses=error_responses(404),
    summary="Cancel a run",
)
async def cancel_workflow(workflow_id: str, request: Request) -> RunInfo:
    run = await backend_of(request).get_workflow(workflow_id)
    await run.cancel()
    return run_info(run, (await run.status()).value)


@router.post(
    "/{workflow_id}/tasks/{task_id}/approval",
    responses=error_responses(*BODY_ERRORS, 404, 409, 422, 503),
    summary="Answer a waiting human/approval task (approve, or reject with approved: false)",
)
async def approve_task(
    workflow_id: str, task_id: str, body: ApprovalRequest, request: Request
) -> dict[str, Any]:
    run = await backend_of(request).get_workflow(workflow_id)
    return await run.approve(task_id, body.approved, body.data, body.reason, body.by)


@router.post(
    "/{workflow_id}/resume",
    status_code=201,
    response_model=ResumeResponse,
    responses=error_responses(404, 409, 422),
    summary="Resume an ended run as a new run, carrying over the finished tasks' results",
)
async def resume_workflow(workflow_id: str, body: ResumeRequest, request: Request) -> ResumeResponse:
    spec = None
    if any(getattr(body, k) is not None for k in ("path", "yaml", "spec")):
        fields = body.model_dump(include={"path", "yaml", "spec", "filename", "base_dir"})
        spec = load_request_spec(WorkflowRequest(**fields), request)
    plan, run = await backend_of(request).resume(
        workflow_id, spec, body.from_tasks, body.inputs, dry_run=body.dry_run
    )
    return ResumeResponse(plan=plan, run=run_info(run) if run is not None else None)


@router.get(
    "/{workflow_id}/logs",
    response_model=list[LogEvent],
    responses=error_responses(404),
    summary="What happened so far, oldest first",
)
async def get_logs(
    workflow_id: str, request: Request, limit: int = Query(2000, ge=1, le=100_000)
) -> list[LogEvent]:
    run = await backend_of(request).get_workflow(workflow_id)
    return await run.logs(limit)
