"""Pipelines on a schedule, over Temporal Schedules: create, list, describe, trigger, pause, unpause,
delete and backfill.

A schedule starts the generic DagWorkflow with the pipeline's spec and bound inputs, exactly as
``gleitzeit run`` does (the same DagInput, task queue, summary and the ``GleitzeitPipeline`` search
attribute where registered), so its runs are found like any other. The pipeline is validated and its
inputs bound before anything is created. Each run's id is the schedule id plus the time it was due
(Temporal adds it). ``NativeSchedules`` talks to Temporal; the REST API serves it under
``/v1/schedules`` and ``RemoteSchedules`` (gleitzeit.client.remote_schedules) calls that.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleBackfill,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
)
from temporalio.service import RPCError, RPCStatusCode

from gleitzeit.client.starter import dag_input_for, pipeline_search_attributes, start_summary
from gleitzeit.config import Settings
from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import (
    GleitzeitError,
    NotFoundError,
    Problem,
    TemporalUnavailableError,
    ValidationError,
    WorkflowExecutionError,
)
from gleitzeit.core.units import parse_duration
from gleitzeit.dsl.params import parse_at
from gleitzeit.workflows.dag import DagWorkflow

__all__ = ["OVERLAPS", "NativeSchedules", "ScheduleInfo", "ScheduledRun", "parse_time"]

Overlap = Literal["skip", "buffer_one", "allow_all"]
OVERLAPS: dict[str, ScheduleOverlapPolicy] = {
    "skip": ScheduleOverlapPolicy.SKIP,
    "buffer_one": ScheduleOverlapPolicy.BUFFER_ONE,
    "allow_all": ScheduleOverlapPolicy.ALLOW_ALL,
}
# Set on every schedule Gleitzeit creates: the pipeline's name (list shows only these schedules).
PIPELINE_MEMO = "GleitzeitPipeline"
# The cron expression as given: Temporal keeps it as calendar specs, and describes those.
CRON_MEMO = "GleitzeitCron"
_CRON_HINT = "five fields (minute hour day-of-month month day-of-week), e.g. '0 6 * * *', or @daily / @hourly"


class ScheduledRun(BaseModel):
    workflow_id: str
    scheduled_at: datetime
    started_at: datetime


class ScheduleInfo(BaseModel):
    """One schedule as ``list`` and ``describe`` report it."""

    schedule_id: str
    pipeline: str | None = None
    cron: list[str] = Field(default_factory=list)
    every: list[float] = Field(default_factory=list)  # seconds
    timezone: str | None = None
    overlap: str | None = None
    paused: bool = False
    note: str | None = None
    next_runs: list[datetime] = Field(default_factory=list)
    recent_runs: list[ScheduledRun] = Field(default_factory=list)
    runs: int | None = None  # how many runs it started (describe only)


def parse_time(value: str, what: str) -> datetime:
    """An ISO 8601 timestamp with a time zone (``--from``/``--to`` of a backfill)."""
    try:
        return parse_at(value)
    except ValueError as exc:
        raise ValidationError(problems=[Problem(f"{what}: {exc}", key=what, code="invalid-value")]) from None


def _every(value: str | float) -> timedelta:
    try:
        return timedelta(seconds=parse_duration(value))
    except ValueError as exc:
        raise ValidationError(
            problems=[Problem(f"--every: {exc}", key="every", code="invalid-value")]
        ) from None


def _check_timezone(name: str | None) -> None:
    if name is None:
        return
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValidationError(
            problems=[
                Problem(
                    f"'{name}' is not a time zone",
                    key="timezone",
                    code="invalid-value",
                    hint="an IANA name such as Europe/Berlin, America/New_York or UTC",
                )
            ]
        ) from None


class NativeSchedules:
    """Schedules on the Temporal server ``client`` talks to."""

    def __init__(self, client: Client, settings: Settings, file_roots: list[str] | None = None) -> None:
        self.client = client
        self.settings = settings
        self.file_roots = file_roots

    async def create(
        self,
        spec: WorkflowSpec,
        schedule_id: str,
        *,
        inputs: dict[str, Any] | None = None,
        cron: str | None = None,
        every: str | float | None = None,
        overlap: str = "skip",
        timezone: str | None = None,
    ) -> ScheduleInfo:
        """Create a schedule running ``spec`` (validated) with ``inputs`` (bound now, so a missing
        input is said here, not at the first run). Exactly one of ``cron`` and ``every``."""
        from gleitzeit.dsl.inputs import bind_inputs

        if (cron is None) == (every is None):
            raise ValidationError(
                problems=[Problem("give exactly one of --cron and --every", key="cron|every", code="missing")]
            )
        if overlap not in OVERLAPS:
            raise ValidationError(
                problems=[
                    Problem(f"--overlap must be one of {', '.join(OVERLAPS)}, not '{overlap}'", key="overlap")
                ]
            )
        _check_timezone(timezone)
        bound = bind_inputs(spec, dict(inputs or {}))
        schedule_spec = ScheduleSpec(
            cron_expressions=[cron] if cron is not None else [],
            intervals=[ScheduleIntervalSpec(every=_every(every))] if every is not None else [],
            time_zone_name=timezone,
        )
        summary, details = start_summary(spec, bound)
        action = ScheduleActionStartWorkflow(
            DagWorkflow.run,
            dag_input_for(spec, bound, self.settings, file_roots=self.file_roots),
            id=schedule_id,
            task_queue=self.settings.task_queue,
            execution_timeout=timedelta(seconds=spec.timeout + 300.0) if spec.timeout else None,
            typed_search_attributes=await pipeline_search_attributes(self.client, spec, self.settings),
            static_summary=summary,
            static_details=details,
        )
        schedule = Schedule(
            action=action, spec=schedule_spec, policy=SchedulePolicy(overlap=OVERLAPS[overlap])
        )
        try:
            memo = {PIPELINE_MEMO: spec.name, **({CRON_MEMO: cron} if cron is not None else {})}
            await self.client.create_schedule(schedule_id, schedule, memo=memo)
        except ScheduleAlreadyRunningError:
            raise ValidationError(
                problems=[
                    Problem(
                        f"a schedule with id '{schedule_id}' exists",
                        key="id",
                        code="exists",
                        hint=f"choose another --id, or delete it first: gleitzeit schedule delete {schedule_id}",
                    )
                ]
            ) from None
        except RPCError as exc:
            raise self._refusal(exc, schedule_id, cron) from None
        return await self.describe(schedule_id)

    async def list(self) -> list[ScheduleInfo]:
        """Gleitzeit's schedules (those with a pipeline), by id."""
        found: list[ScheduleInfo] = []
        try:
            async for entry in await self.client.list_schedules():
                has_memo = bool(entry.raw_entry.memo.fields)
                memo = await entry.memo_value(PIPELINE_MEMO, None) if has_memo else None
                if memo is None:
                    continue
                cron = await entry.memo_value(CRON_MEMO, None)
                schedule = entry.schedule
                spec = schedule.spec if schedule is not None else None
                found.append(
                    ScheduleInfo(
                        schedule_id=entry.id,
                        pipeline=str(memo),
                        cron=[str(cron)] if cron else list(spec.cron_expressions) if spec else [],
                        every=[i.every.total_seconds() for i in spec.intervals] if spec else [],
                        timezone=(spec.time_zone_name or None) if spec else None,
                        paused=bool(schedule and schedule.state.paused),
                        note=(schedule.state.note or None) if schedule else None,
                        next_runs=list(entry.info.next_action_times) if entry.info else [],
                        recent_runs=_runs(entry.info.recent_actions) if entry.info else [],
                    )
                )
        except RPCError as exc:
            raise self._refusal(exc, None, None) from None
        return sorted(found, key=lambda s: s.schedule_id)

    async def describe(self, schedule_id: str) -> ScheduleInfo:
        try:
            d = await self.client.get_schedule_handle(schedule_id).describe()
        except RPCError as exc:
            raise self._refusal(exc, schedule_id, None) from None
        spec, state = d.schedule.spec, d.schedule.state
        overlap = d.schedule.policy.overlap
        has_memo = bool(d.raw_description.memo.fields)
        pipeline = await d.memo_value(PIPELINE_MEMO, None) if has_memo else None
        cron = await d.memo_value(CRON_MEMO, None) if has_memo else None
        return ScheduleInfo(
            schedule_id=d.id,
            pipeline=str(pipeline) if pipeline is not None else None,
            cron=[str(cron)] if cron else list(spec.cron_expressions),
            every=[i.every.total_seconds() for i in spec.intervals],
            timezone=spec.time_zone_name or None,
            overlap=next((k for k, v in OVERLAPS.items() if v == overlap), None),
            paused=state.paused,
            note=state.note or None,
            next_runs=list(d.info.next_action_times),
            recent_runs=_runs(d.info.recent_actions),
            runs=d.info.num_actions,
        )

    async def trigger(self, schedule_id: str) -> None:
        """Start one run now (the schedule's overlap policy applies)."""
        await self._call(schedule_id, "trigger")

    async def pause(self, schedule_id: str, note: str | None = None) -> None:
        await self._call(schedule_id, "pause", note=note or "paused with gleitzeit")

    async def unpause(self, schedule_id: str, note: str | None = None) -> None:
        await self._call(schedule_id, "unpause", note=note or "unpaused with gleitzeit")

    async def delete(self, schedule_id: str) -> None:
        """Delete the schedule (runs it started go on)."""
        await self._call(schedule_id, "delete")

    async def backfill(self, schedule_id: str, start: datetime, end: datetime) -> None:
        """Start the runs the schedule would have started between ``start`` and ``end``."""
        if end <= start:
            raise ValidationError(
                problems=[Problem("--to must be after --from", key="to", code="invalid-value")]
            )
        backfill = ScheduleBackfill(start_at=start, end_at=end, overlap=ScheduleOverlapPolicy.ALLOW_ALL)
        try:
            await self.client.get_schedule_handle(schedule_id).backfill(backfill)
        except RPCError as exc:
            raise self._refusal(exc, schedule_id, None) from None

    async def _call(self, schedule_id: str, action: str, **kwargs: Any) -> None:
        handle = self.client.get_schedule_handle(schedule_id)
        try:
            await getattr(handle, action)(**kwargs)
        except RPCError as exc:
            raise self._refusal(exc, schedule_id, None) from None

    def _refusal(self, exc: RPCError, schedule_id: str | None, cron: str | None) -> GleitzeitError:
        if exc.status == RPCStatusCode.NOT_FOUND and schedule_id is not None:
            return NotFoundError(f"no schedule with id '{schedule_id}' (see gleitzeit schedule list)")
        if exc.status == RPCStatusCode.INVALID_ARGUMENT:
            if cron is not None and "cron" in exc.message.lower():
                problem = Problem(
                    f"'{cron}' is not a cron expression ({exc.message})",
                    key="cron",
                    code="invalid-value",
                    hint=_CRON_HINT,
                )
            else:
                problem = Problem(f"Temporal refused the schedule: {exc.message}", code="invalid-value")
            return ValidationError(problems=[problem])
        if exc.status in (RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED):
            return TemporalUnavailableError(
                f"Temporal at {self.settings.temporal_address} did not answer: {exc.message}"
            )
        return WorkflowExecutionError(f"Temporal refused the request: {exc.message}")


def _runs(actions: Any) -> list[ScheduledRun]:
    runs: list[ScheduledRun] = []
    for a in actions:
        workflow_id = getattr(a.action, "workflow_id", None)
        if workflow_id:
            runs.append(
                ScheduledRun(workflow_id=workflow_id, scheduled_at=a.scheduled_at, started_at=a.started_at)
            )
    return runs
