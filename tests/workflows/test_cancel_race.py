"""A task fails while a sibling's activity is scheduled: the cancel may race the sibling's completion.

DagWorkflow then sends RequestCancelActivityTask for an activity whose completion reaches the server
while that workflow task is in flight. A real server accepts it (it looks in the buffered events:
ACTIVITY_TASK_CANCEL_REQUESTED, then the buffered STARTED/COMPLETED, then a new workflow task and the
run fails with the task's error). The time-skipping test server (temporal-test-server 1.40) refuses
the completion with FAILED_PRECONDITION "ACTIVITY_UNKNOWN for scheduledEventId=N", drops the buffered
completion and never times the workflow task out: the run's last event stays WORKFLOW_TASK_STARTED
for good (temporalio/sdk-java#2391, sdk-typescript#1058; same shape for timers: sdk-java#3088). So
this runs on the dev server only: it checks our side of the race, which the test server cannot.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
from temporalio.api.enums.v1 import EventType
from temporalio.testing import WorkflowEnvironment

from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.config import Settings
from gleitzeit.contracts.spec import RetrySpec, TaskSpec, WorkflowSpec
from gleitzeit.core.errors import TaskExecutionError
from gleitzeit.worker.build import build_worker
from tests.workflows.doubles import ScriptedActivities, fail

pytestmark = pytest.mark.timeout(120)

RUNS = 6


def _task(task_id: str, **kw: object) -> TaskSpec:
    params = {"model": "m", "messages": [{"role": "user", "content": task_id}]}
    return TaskSpec(id=task_id, method="llm/chat", parameters=params, **kw)  # type: ignore[arg-type]


async def test_failure_while_a_sibling_is_scheduled_fails_the_run_on_a_real_server(
    local_env: WorkflowEnvironment,
) -> None:
    # One activity slot: 'b' is scheduled but not started when 'a' fails, then starts and completes
    # around the workflow task that cancels it.
    acts = ScriptedActivities().plan("a", fail("boom", non_retryable=True, error_type="ModelNotFound"))
    settings = Settings(task_queue=f"race-{uuid.uuid4()}", workflow_sandbox=True)
    wf = WorkflowSpec(
        name="cancel race",
        tasks=[_task("a", retry=RetrySpec(max_attempts=1)), _task("b")],
        max_parallel=2,
    )
    async with build_worker(
        local_env.client, settings, activities=acts.activities(), max_concurrent_activities=1
    ):
        for _ in range(RUNS):
            handle = await start_pipeline(local_env.client, wf, {}, settings)
            with pytest.raises(TaskExecutionError) as info:
                await asyncio.wait_for(wait_result(handle), 30)
            assert info.value.task_id == "a"
            events = [e.event_type async for e in handle.fetch_history_events()]
            assert EventType.EVENT_TYPE_WORKFLOW_TASK_FAILED not in events
            assert events[-1] == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED
