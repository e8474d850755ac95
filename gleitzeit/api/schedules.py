"""``/v1/schedules``: pipelines on a schedule (Temporal Schedules), over gleitzeit.client.schedules."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from gleitzeit.api.deps import backend_of
from gleitzeit.api.errors import BODY_ERRORS, error_responses
from gleitzeit.api.schemas import WorkflowRequest
from gleitzeit.api.workflows import load_request_spec
from gleitzeit.client.schedules import NativeSchedules, ScheduleInfo, parse_time

__all__ = ["ScheduleRequest", "router"]

router = APIRouter(prefix="/v1/schedules", tags=["schedules"])


class ScheduleRequest(WorkflowRequest):
    """The pipeline (exactly one of ``path``, ``yaml``, ``spec``) and when it runs: ``cron`` or ``every``."""

    schedule_id: str = Field(min_length=1, max_length=200)
    cron: str | None = Field(default=None, description="e.g. '0 6 * * *' or @daily")
    every: str | float | None = Field(default=None, description="a duration, e.g. 1h or 90s")
    overlap: str = Field(default="skip", description="skip | buffer_one | allow_all")
    timezone: str | None = Field(default=None, description="an IANA name, e.g. Europe/Berlin")


class NoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: str | None = None


class BackfillRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str
    end: str


def _schedules(request: Request) -> NativeSchedules:
    backend = backend_of(request)
    # The API's roots ride along, as on the runs it starts: a scheduled run opens no file outside them.
    return NativeSchedules(backend.client, backend.settings, file_roots=backend.run_roots)


@router.post(
    "",
    status_code=201,
    response_model=ScheduleInfo,
    responses=error_responses(*BODY_ERRORS, 403, 404, 409, 422),
    summary="Create a schedule",
)
async def create_schedule(body: ScheduleRequest, request: Request) -> ScheduleInfo:
    spec = await run_in_threadpool(load_request_spec, body, request)
    return await _schedules(request).create(
        spec,
        body.schedule_id,
        inputs=body.inputs,
        cron=body.cron,
        every=body.every,
        overlap=body.overlap,
        timezone=body.timezone,
    )


@router.get("", response_model=list[ScheduleInfo], summary="Gleitzeit's schedules")
async def list_schedules(request: Request) -> list[ScheduleInfo]:
    return await _schedules(request).list()


@router.get(
    "/{schedule_id}", response_model=ScheduleInfo, responses=error_responses(404), summary="One schedule"
)
async def describe_schedule(schedule_id: str, request: Request) -> ScheduleInfo:
    return await _schedules(request).describe(schedule_id)


@router.post("/{schedule_id}/trigger", responses=error_responses(404), summary="Start one run now")
async def trigger_schedule(schedule_id: str, request: Request) -> dict[str, Any]:
    await _schedules(request).trigger(schedule_id)
    return {"schedule_id": schedule_id, "triggered": True}


@router.post("/{schedule_id}/pause", responses=error_responses(*BODY_ERRORS, 404), summary="Pause a schedule")
async def pause_schedule(schedule_id: str, body: NoteRequest, request: Request) -> dict[str, Any]:
    await _schedules(request).pause(schedule_id, body.note)
    return {"schedule_id": schedule_id, "paused": True}


@router.post(
    "/{schedule_id}/unpause", responses=error_responses(*BODY_ERRORS, 404), summary="Unpause a schedule"
)
async def unpause_schedule(schedule_id: str, body: NoteRequest, request: Request) -> dict[str, Any]:
    await _schedules(request).unpause(schedule_id, body.note)
    return {"schedule_id": schedule_id, "paused": False}


@router.post(
    "/{schedule_id}/backfill",
    responses=error_responses(*BODY_ERRORS, 404, 422),
    summary="Start the runs of a past period",
)
async def backfill_schedule(schedule_id: str, body: BackfillRequest, request: Request) -> dict[str, Any]:
    start, end = parse_time(body.start, "start"), parse_time(body.end, "end")
    await _schedules(request).backfill(schedule_id, start, end)
    return {"schedule_id": schedule_id, "backfilled": [start.isoformat(), end.isoformat()]}


@router.delete("/{schedule_id}", responses=error_responses(404), summary="Delete a schedule (its runs go on)")
async def delete_schedule(schedule_id: str, request: Request) -> dict[str, Any]:
    await _schedules(request).delete(schedule_id)
    return {"schedule_id": schedule_id, "deleted": True}
