"""``client.schedules``: pipelines on a schedule, the same calls in native mode (Temporal Schedules
through gleitzeit.client.schedules) and api mode (the REST API's ``/v1/schedules``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from gleitzeit.client.native import NativeBackend
from gleitzeit.client.remote import RemoteBackend, pipeline_body
from gleitzeit.client.schedules import NativeSchedules, ScheduleInfo
from gleitzeit.client.specs import load_spec

if TYPE_CHECKING:
    from gleitzeit.client.client import GleitzeitClient

__all__ = ["Schedules"]

Pipeline = str | os.PathLike[str] | Mapping[str, Any]


class Schedules:
    """Create and manage schedules; see docs/schedules.md. Bad input (a cron expression Temporal does
    not read, an existing id, a duration or time zone it cannot use, an invalid pipeline) raises
    ``ValidationError`` and creates nothing; an unknown id ``NotFoundError``."""

    def __init__(self, client: GleitzeitClient) -> None:
        self._client = client

    async def _backend(self) -> NativeSchedules | RemoteBackend:
        backend = await self._client._backend()
        if isinstance(backend, NativeBackend):
            # The REST API's roots ride along, as on its runs: a scheduled run opens no file outside them.
            return NativeSchedules(backend.client, backend.settings, file_roots=backend.run_roots)
        return backend

    async def create(
        self,
        pipeline: Pipeline,
        schedule_id: str,
        *,
        cron: str | None = None,
        every: str | float | None = None,
        inputs: Mapping[str, Any] | None = None,
        overlap: str = "skip",
        timezone: str | None = None,
    ) -> ScheduleInfo:
        """Run ``pipeline`` on ``cron`` (e.g. ``0 6 * * *``) or ``every`` (a duration: ``1h``); the
        pipeline is validated and ``inputs`` bound before the schedule is created."""
        backend = await self._backend()
        if isinstance(backend, NativeSchedules):
            return await backend.create(
                load_spec(pipeline),
                schedule_id,
                inputs=dict(inputs or {}),
                cron=cron,
                every=every,
                overlap=overlap,
                timezone=timezone,
            )
        body = {
            **pipeline_body(pipeline),
            "schedule_id": schedule_id,
            "cron": cron,
            "every": every,
            "inputs": dict(inputs or {}),
            "overlap": overlap,
            "timezone": timezone,
        }
        return ScheduleInfo.model_validate(await backend.post_json("/v1/schedules", body))

    async def list(self) -> list[ScheduleInfo]:
        backend = await self._backend()
        if isinstance(backend, NativeSchedules):
            return await backend.list()
        return [ScheduleInfo.model_validate(x) for x in await backend.get_json("/v1/schedules")]

    async def describe(self, schedule_id: str) -> ScheduleInfo:
        backend = await self._backend()
        if isinstance(backend, NativeSchedules):
            return await backend.describe(schedule_id)
        return ScheduleInfo.model_validate(await backend.get_json(_path(schedule_id)))

    async def trigger(self, schedule_id: str) -> None:
        """Start one run now."""
        await self._act(schedule_id, "trigger")

    async def pause(self, schedule_id: str, note: str | None = None) -> None:
        await self._act(schedule_id, "pause", note=note)

    async def unpause(self, schedule_id: str, note: str | None = None) -> None:
        await self._act(schedule_id, "unpause", note=note)

    async def delete(self, schedule_id: str) -> None:
        """Delete the schedule; the runs it started go on."""
        backend = await self._backend()
        if isinstance(backend, NativeSchedules):
            await backend.delete(schedule_id)
        else:
            await backend.request("DELETE", _path(schedule_id))

    async def backfill(self, schedule_id: str, start: datetime, end: datetime) -> None:
        """Start the runs the schedule would have started between ``start`` and ``end``."""
        backend = await self._backend()
        if isinstance(backend, NativeSchedules):
            await backend.backfill(schedule_id, start, end)
        else:
            body = {"start": start.isoformat(), "end": end.isoformat()}
            await backend.post_json(_path(schedule_id) + "/backfill", body)

    async def _act(self, schedule_id: str, action: str, **kwargs: Any) -> None:
        backend = await self._backend()
        if isinstance(backend, NativeSchedules):
            await getattr(backend, action)(schedule_id, **kwargs)
        else:
            await backend.post_json(_path(schedule_id) + f"/{action}", {k: v for k, v in kwargs.items()})


def _path(schedule_id: str) -> str:
    return f"/v1/schedules/{quote(schedule_id, safe='')}"
