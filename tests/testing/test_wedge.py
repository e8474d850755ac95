"""The watchdog that keeps `gleitzeit test` from hanging on the time-skipping server's wedge
(sdk-java#2391: see gleitzeit.testing.session). A history double stands in for the server."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

from temporalio.api.enums.v1 import EventType

from gleitzeit.testing.session import wedged


@dataclass
class Event:
    event_id: int
    event_type: int


class HistoryDouble:
    """A run's history whose last event is ``last()``; ``moving`` adds an event on every look."""

    def __init__(self, moving: bool) -> None:
        self.moving = moving
        self.count = 10

    async def fetch_history_events(self) -> AsyncIterator[Event]:
        if self.moving:
            self.count += 1
        for i in range(1, self.count + 1):
            yield Event(i, EventType.EVENT_TYPE_WORKFLOW_TASK_STARTED)


async def test_a_workflow_task_started_and_left_is_a_wedge() -> None:
    await asyncio.wait_for(wedged(HistoryDouble(moving=False), seconds=0.3, poll=0.05), timeout=5)


async def test_a_run_that_moves_on_is_not() -> None:
    watch = asyncio.ensure_future(wedged(HistoryDouble(moving=True), seconds=0.2, poll=0.05))
    await asyncio.sleep(1.0)
    assert not watch.done()
    watch.cancel()
