"""Resume a failed, cancelled or timed-out run as a new run that carries the finished results over.

Why a new run seeded with results, not Temporal's reset (docs/resume.md says more): a reset replays
the earlier history up to a workflow task and continues from there, so it cannot take an edited
pipeline, skip a task that completed *after* the reset point, or run again from an arbitrary task
(``--from``); and it rewrites the earlier run's id. A new run whose input carries the results
(``DagInput.carried``) does all of that, keeps the earlier history untouched, and its history holds
only the tasks that run (a carried task costs no event).

What counts as completed in the earlier run: its ``results`` query (every finished task's result,
those carried into it included: the chain of resumes), answered by any worker of the task queue even
for a closed run. Without a worker, the completed activities in its history, plus what it carried.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from typing import Any

from temporalio.api.enums.v1 import EventType
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from gleitzeit.client.native_run import NativeRun
from gleitzeit.client.resume_plan import CarryPlan, plan_carry, task_fingerprints
from gleitzeit.contracts.batch import BatchInput
from gleitzeit.contracts.dag import DagInput
from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import ConflictError, ValidationError, WorkflowNotFoundError
from gleitzeit.core.models import ResumePlan, WorkflowStatus

__all__ = [
    "QUERY_SECONDS",
    "Earlier",
    "batch_plan",
    "history_gone_error",
    "read_earlier",
    "resume_id",
    "resume_plan",
]

# How long the earlier run's queries may take (a closed run is replayed by a worker to answer).
QUERY_SECONDS = 15.0
# Resumes of one run tried as ids before giving up (`<id>-resume-1`, `-2` ...).
MAX_RESUMES = 1000
_RESUME_SUFFIX = re.compile(r"^(?P<base>.+)-resume-(?P<n>\d+)$")


class Earlier:
    """What a resume needs of the earlier run: its input, its finished results and task states."""

    def __init__(
        self,
        workflow_id: str,
        kind: str,
        inp: DagInput | BatchInput,
        results: dict[str, Any],
        states: dict[str, str],
        fingerprints: dict[str, str] | None,
    ) -> None:
        self.workflow_id = workflow_id
        self.kind = kind
        self.inp = inp
        self.results = results
        self.states = states
        self.fingerprints = fingerprints


def history_gone_error(workflow_id: str) -> WorkflowNotFoundError:
    return WorkflowNotFoundError(
        f"no workflow with id '{workflow_id}': either there never was one (see `gleitzeit list`), or "
        "its history is gone (Temporal deletes a closed run's history after the namespace's retention "
        "period), and a run without its history cannot be resumed; run the pipeline again"
    )


async def read_earlier(run: NativeRun) -> Earlier:
    """The earlier run's input, results and states; ``ConflictError`` while it still runs."""
    wid = run.workflow_id
    try:
        description = await run.handle.describe()
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise history_gone_error(wid) from None
        raise
    from gleitzeit.client.convert import status_from_temporal

    status = status_from_temporal(description.status)
    if status == WorkflowStatus.RUNNING:
        raise ConflictError(
            f"workflow '{wid}' is still running; a run is resumed once it has ended: wait for it "
            f"(`gleitzeit result {wid}`) or stop it (`gleitzeit cancel {wid}`), then resume",
            workflow_id=wid,
        )
    try:
        inp = await run.input()
    except WorkflowNotFoundError:
        raise history_gone_error(wid) from None
    if isinstance(inp, BatchInput):
        return Earlier(wid, "batch", inp, {}, {}, None)
    results, states = await _finished(run, inp)
    # A run started before fingerprints were kept has none: the plan then compares definitions.
    return Earlier(wid, "workflow", inp, results, states, dict(inp.fingerprints) or None)


async def _finished(run: NativeRun, inp: DagInput) -> tuple[dict[str, Any], dict[str, str]]:
    """Results of the tasks that completed, and every task's state when known."""
    from gleitzeit.workflows.dag import DagWorkflow

    try:
        results = await asyncio.wait_for(run.handle.query(DagWorkflow.results), QUERY_SECONDS)
        progress = await asyncio.wait_for(run.handle.query(DagWorkflow.progress), QUERY_SECONDS)
        states: dict[str, str] = {t.task_id: str(t.state) for t in progress.tasks}
        return dict(results), states
    except Exception:  # no worker answered (a TimeoutError too): read the history instead
        pass
    return await _from_history(run, inp), {}


async def _from_history(run: NativeRun, inp: DagInput) -> dict[str, Any]:
    """Results of the tasks whose (one, non-local) activity completed, plus those the run carried.

    A foreach task's items and local activities are not read here: they run again."""
    task_ids = {t.id for t in inp.spec.tasks}
    scheduled: dict[int, str] = {}
    found: dict[str, Any] = dict(inp.carried)
    converter = run.handle._client.data_converter  # the converter the client was built with
    try:
        async for event in run.handle.fetch_history_events():
            if event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED:
                attrs = event.activity_task_scheduled_event_attributes
                if attrs.activity_id in task_ids:
                    scheduled[event.event_id] = attrs.activity_id
            elif event.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_COMPLETED:
                done = event.activity_task_completed_event_attributes
                task_id = scheduled.get(done.scheduled_event_id)
                if task_id is not None and done.result.payloads:
                    [value] = await converter.decode(done.result.payloads, [dict])
                    found[task_id] = value
    except RPCError as exc:
        if exc.status == RPCStatusCode.NOT_FOUND:
            raise history_gone_error(run.workflow_id) from None
        raise
    return found


async def resume_id(client: Client, workflow_id: str) -> str:
    """``<base>-resume-<n>``: the first such id no run has (the base of an earlier resume's id is
    its original's, so a chain reads ``x-resume-1``, ``x-resume-2`` ...)."""
    match = _RESUME_SUFFIX.match(workflow_id)
    base, start = (match["base"], int(match["n"]) + 1) if match else (workflow_id, 1)
    for n in range(start, start + MAX_RESUMES):
        candidate = f"{base}-resume-{n}"
        try:
            await client.get_workflow_handle(candidate).describe()
        except RPCError as exc:
            if exc.status == RPCStatusCode.NOT_FOUND:
                return candidate
            raise
    raise ConflictError(f"workflow '{workflow_id}' was resumed {MAX_RESUMES} times; pass another id")


def resume_plan(
    earlier: Earlier,
    spec: WorkflowSpec | None,
    inputs: Mapping[str, Any] | None,
    from_tasks: Iterable[str] | None,
) -> tuple[WorkflowSpec, dict[str, Any], CarryPlan]:
    """The spec and bound inputs to run, and what is carried (see gleitzeit.client.resume_plan)."""
    from gleitzeit.dsl.inputs import bind_inputs

    assert isinstance(earlier.inp, DagInput)
    old_spec, old_inputs = earlier.inp.spec, dict(earlier.inp.inputs)
    new_spec = spec or old_spec
    given = dict(inputs or {})
    # The earlier run's inputs stay, except those given again; an input the edited file no longer
    # declares is dropped (bind_inputs would refuse it), a new one takes its default.
    kept = {k: v for k, v in old_inputs.items() if k in new_spec.inputs}
    bound = bind_inputs(new_spec, {**kept, **given})
    if earlier.fingerprints is not None:
        old_prints, new_prints = earlier.fingerprints, task_fingerprints(new_spec, bound)
    else:  # a run started before fingerprints were kept: compare the definitions without files
        old_prints = task_fingerprints(old_spec, old_inputs, files=False)
        new_prints = task_fingerprints(new_spec, bound, files=False)
    plan = plan_carry(
        earlier.workflow_id,
        new_spec,
        bound,
        earlier.results,
        states=earlier.states,
        from_tasks=from_tasks or (),
        overridden=list(given),
        old_fingerprints=old_prints,
        new_fingerprints=new_prints,
    )
    return new_spec, bound, plan


def batch_plan(earlier: Earlier, spec: Any, inputs: Any, from_tasks: Any) -> ResumePlan:
    """A batch resumes as it was: its files whose results exist are skipped by the batch itself."""
    if spec is not None or inputs or from_tasks:
        raise ValidationError(
            f"'{earlier.workflow_id}' is a batch run: it resumes as it was, without a pipeline file, "
            "inputs or --from (its files whose results exist are skipped)"
        )
    return ResumePlan(
        workflow_id=earlier.workflow_id,
        kind="batch",
        notes=["the batch starts again with the same input; files whose results exist are skipped"],
    )
