"""DagWorkflow: the one generic workflow that interprets every pipeline.

Each task becomes one activity, started as soon as its own dependencies are done (not level by level),
at most ``max_parallel`` at a time, higher priority first among ready tasks, then file order. A
``foreach:`` task becomes one activity per item (``gleitzeit.workflows.foreach``), its items in flight
counted against the same ``max_parallel``.

Determinism (see FACTS.md): tasks are kept in lists and insertion-ordered dicts, never sets; time
comes from ``workflow.now()``; references and conditions are resolved by pure functions; every
activity gets the task id (an item ``task[index]``) as its ``activity_id``, so a replay binds each result to the right task.

Tasks that wait on the workflow side (``time/sleep``, ``time/until``, ``human/approval``) run as
workflow coroutines instead of activities (``gleitzeit.workflows.waits``), handled like activities
once started; their state is ``waiting``. The ``approve`` update answers an approval; its validator
refuses a wrong answer before anything enters the history. Runs without such tasks take exactly the
paths they took before (recorded histories replay unchanged).

Why one module of ~680 lines: it is one class whose methods share the run's state (what is in flight,
each task's state, the results), foreach items included; the pure parts live beside it (``policies``,
``outcome``, ``foreach``'s bookkeeping, ``waits``, ``dsl.references``, ``dsl.conditions``).
"""

from __future__ import annotations

import asyncio
import itertools
from datetime import timedelta
from typing import Any, Literal

from temporalio import workflow
from temporalio.exceptions import ActivityError, ApplicationError

with workflow.unsafe.imports_passed_through():
    from gleitzeit.contracts.dag import (
        APPROVE_UPDATE,
        ApprovalAnswer,
        DagInput,
        DagResult,
        TaskProgress,
        WorkflowProgress,
    )
    from gleitzeit.contracts.spec import TaskSpec, WorkflowSpec
    from gleitzeit.contracts.tasks import TaskInput, has_deferred, offloaded_ref
    from gleitzeit.core.errors import ValidationError
    from gleitzeit.dsl import conditions, references
    from gleitzeit.dsl.methods import WAIT_FAMILIES, method_info
    from gleitzeit.workflows.failures import INPUT_FAILURE_TYPES
    from gleitzeit.workflows.foreach import ForeachRun, item_activity_id, resolve_items, when_per_item
    from gleitzeit.workflows.outcome import MAX_RESULT_BYTES
    from gleitzeit.workflows.outcome import describe_failure as _describe_failure
    from gleitzeit.workflows.outcome import fit_result as _fit_result
    from gleitzeit.workflows.outcome import result_size as _size
    from gleitzeit.workflows.policies import activity_options, default_retry
    from gleitzeit.workflows.waits import Approvals, plan_wait

__all__ = ["MAX_IN_FLIGHT", "MAX_RESULT_BYTES", "DagWorkflow"]

# Temporal refuses more than 2,000 pending activities per workflow; stay well under.
MAX_IN_FLIGHT = 1000
# Partial results attached to a failure are capped harder: they ride in the failure's details.
MAX_FAILURE_DETAILS_BYTES = 256_000

DONE_STATES = ("completed", "failed", "skipped", "cancelled")
COUNTED_STATES = ("pending", "running", "waiting", "completed", "failed", "skipped", "cancelled")
# Opt-in (workflow or task ``metadata``) to run python tasks as local activities; see _start.
LOCAL_ACTIVITY_KEY = "local_activities"


@workflow.defn(name="DagWorkflow", failure_exception_types=INPUT_FAILURE_TYPES)
class DagWorkflow:
    def __init__(self) -> None:
        self._spec: WorkflowSpec | None = None
        self._inputs: dict[str, Any] = {}
        self._file_roots: list[str] | None = None
        self._state: dict[str, TaskProgress] = {}
        self._results: dict[str, Any] = {}
        self._status: str = "running"
        self._primary: dict[str, str] = {}
        # Kept up to date by _mark, so scheduling and progress never rescan every task (a fan-out of
        # 1,000 tasks would otherwise cost O(n) per completion).
        self._counts: dict[str, int] = dict.fromkeys(COUNTED_STATES, 0)
        self._pending: dict[str, None] = {}  # tasks not yet started, skipped or failed, in file order
        self._waiting: dict[str, None] = {}  # those of them with dependencies
        self._running_ids: dict[str, None] = {}
        self._failed_ids: list[str] = []
        self._uniform_priority = True
        self._tasks: dict[str, TaskSpec] = {}
        self._cap = 1
        # foreach tasks whose items are under way (see gleitzeit.workflows.foreach), in start order;
        # an item's activity handle -> its index (the handle is in `running` under its task's id).
        self._foreach: dict[str, ForeachRun] = {}
        self._item_of: dict[asyncio.Task[Any], int] = {}
        self._foreach_items = 0
        self._resumed_from: str | None = None
        self._carried = 0
        # Tasks waiting on the workflow side (timers, approvals; see gleitzeit.workflows.waits).
        self._held: dict[str, None] = {}
        self._approvals = Approvals()
        self._details_stale = False
        # Set once a task's result was offloaded (a blob under the data dir): from then on a task's
        # parameters may carry deferred references that its activity resolves. Runs without
        # offloaded results take exactly the paths they took before (recorded histories replay).
        self._offloaded = False

    # -- queries -----------------------------------------------------------------------------------

    @workflow.query
    def progress(self) -> WorkflowProgress:
        tasks = list(self._state.values())
        counts = {
            s: self._counts[s] for s in ("completed", "failed", "skipped", "running", "waiting", "pending")
        }
        return WorkflowProgress(
            workflow_id=workflow.info().workflow_id,
            name=self._spec.name if self._spec else "",
            status=self._status,  # type: ignore[arg-type]
            total=len(tasks),
            tasks=tasks,
            **counts,
        )

    @workflow.query
    def results(self) -> dict[str, Any]:
        """Results of the tasks finished so far (kept after a cancellation or failure)."""
        return dict(self._results)

    # -- updates -----------------------------------------------------------------------------------

    @workflow.update(name=APPROVE_UPDATE)
    def approve(self, answer: ApprovalAnswer) -> dict[str, Any]:
        """Answer a waiting human/approval task; returns the answer as recorded."""
        return self._approvals.answer(answer, workflow.now())

    @approve.validator
    def _check_approval(self, answer: ApprovalAnswer) -> None:
        # Refused here, the caller gets the reason and nothing enters the history.
        refusal = self._approvals.refusal(answer, self._tasks, self._state)
        if refusal is not None:
            kind, message = refusal
            raise ApplicationError(message, type=kind, non_retryable=True)

    # -- run ---------------------------------------------------------------------------------------

    @workflow.run
    async def run(self, inp: DagInput) -> DagResult:
        spec = inp.spec
        self._spec = spec
        self._inputs = dict(inp.inputs)
        self._file_roots = inp.file_roots
        self._primary = references.primary_fields_for(spec)
        self._state = {t.id: TaskProgress(task_id=t.id, name=t.name, method=t.method) for t in spec.tasks}
        self._counts["pending"] = len(spec.tasks)
        self._pending = dict.fromkeys(t.id for t in spec.tasks)
        self._waiting = dict.fromkeys(t.id for t in spec.tasks if t.dependencies)
        self._tasks = {t.id: t for t in spec.tasks}
        self._uniform_priority = len({t.priority for t in spec.tasks}) <= 1
        cap = max(1, min(spec.max_parallel or inp.default_max_parallel, MAX_IN_FLIGHT))
        self._cap = cap
        self._resumed_from = inp.resumed_from
        self._carry(inp.carried)
        deadline = workflow.now() + timedelta(seconds=spec.timeout) if spec.timeout else None
        order = {t.id: i for i, t in enumerate(spec.tasks)}
        # handle -> task id, in start order: iterating this dict (never the `done` set) keeps
        # completion handling deterministic when several activities finish in one workflow task.
        running: dict[asyncio.Task[Any], str] = {}
        self._update_details()

        try:
            while True:
                failure = self._start_ready(spec, running, cap, order)
                if self._details_stale:  # a wait began: say so in the web UI now, not at the next end
                    self._details_stale = False
                    self._update_details()
                if failure is not None:
                    await self._cancel_running(running, "another task failed")
                    self._status = "failed"
                    self._update_details()
                    raise failure
                if not running:
                    break
                timeout = None
                if deadline is not None:
                    timeout = max((deadline - workflow.now()).total_seconds(), 0.0)
                done, _ = await workflow.wait(
                    list(running), timeout=timeout, return_when=asyncio.FIRST_COMPLETED
                )
                if not done:
                    await self._cancel_running(running, "the workflow timed out")
                    self._status = "timed_out"
                    self._update_details()
                    raise ApplicationError(
                        f"workflow '{spec.name}' timed out after {spec.timeout:g} s "
                        f"({self._summary_counts()})",
                        self._failure_details(None),
                        type="WorkflowTimeout",
                        non_retryable=True,
                    )
                for handle in [h for h in running if h in done]:
                    task_id = running.pop(handle)
                    failure = self._finish(self._tasks[task_id], handle)
                    if failure is not None:
                        await self._cancel_running(running, f"task '{task_id}' failed")
                        self._status = "failed"
                        self._update_details()
                        raise failure
                self._update_details()
        except asyncio.CancelledError:
            await self._cancel_running(running, "the workflow was cancelled")
            self._status = "cancelled"
            self._update_details()
            raise

        outputs = self._outputs(spec)
        partial = any(t.state == "failed" or t.items_failed for t in self._state.values())
        status = "partial" if partial else "completed"
        self._status = status
        self._update_details()
        result = DagResult(
            workflow_id=workflow.info().workflow_id,
            name=spec.name,
            status=status,  # type: ignore[arg-type]
            results=dict(self._results),
            outputs=outputs,
            tasks=list(self._state.values()),
        )
        return _fit_result(result)

    # -- scheduling --------------------------------------------------------------------------------

    def _start_ready(
        self, spec: WorkflowSpec, running: dict[asyncio.Task[Any], str], cap: int, order: dict[str, int]
    ) -> ApplicationError | None:
        """Start ready tasks up to the cap; skip or fail those that cannot run. Loops until stable,
        because a skip can make further tasks decidable. Returns the failure that stops the run.

        Ready tasks start highest priority first, then in file order. Only undecided tasks are
        looked at, and once every slot is taken only those with dependencies (the ones a failure
        upstream can skip), from where the pass had got to: the commands are the same as scanning
        every task each time, and a completion in a fan-out of n tasks costs O(1) instead of O(n).
        """
        changed = True
        while changed:
            changed = False
            ready: list[TaskSpec] = []
            # File position from which only tasks with dependencies are left to look at (all slots taken).
            rest: int | None = 0 if len(running) >= cap else None
            if rest is None:
                for task_id in list(self._pending):
                    if len(running) >= cap:
                        rest = order[task_id]
                        break
                    task = self._tasks[task_id]
                    readiness = self._readiness(task)
                    if readiness == "skipped":
                        changed = True
                    if readiness != "ready":
                        continue
                    if not self._uniform_priority:
                        ready.append(task)
                        continue
                    # One priority: file order is the start order, so start as we go.
                    outcome = self._try_start(task, running)
                    if isinstance(outcome, ApplicationError):
                        return outcome
                    changed = changed or outcome
            if rest is not None:
                for task_id in list(self._waiting):
                    if order[task_id] >= rest and self._readiness(self._tasks[task_id]) == "skipped":
                        changed = True
            ready.sort(key=lambda t: (-t.priority, order[t.id]))
            for task in ready:
                if len(running) >= cap:
                    break
                outcome = self._try_start(task, running)
                if isinstance(outcome, ApplicationError):
                    return outcome
                changed = changed or outcome
            # Slots left after the ready tasks go to the items of foreach tasks under way.
            filled = self._fill_items(running, cap)
            if isinstance(filled, ApplicationError):
                return filled
            changed = changed or filled
        return None

    def _readiness(self, task: TaskSpec) -> Literal["waiting", "skipped", "ready"]:
        """``waiting`` (a dependency is not done), ``skipped`` (one ended without completing: the task
        is marked skipped now) or ``ready``."""
        if any(self._state[d].state not in DONE_STATES for d in task.dependencies):
            return "waiting"
        blocked = [d for d in task.dependencies if self._state[d].state != "completed"]
        if blocked:
            first = blocked[0]
            self._mark(task.id, "skipped", reason=f"dependency '{first}' {self._state[first].state}")
            return "skipped"
        return "ready"

    def _try_start(self, task: TaskSpec, running: dict[asyncio.Task[Any], str]) -> bool | ApplicationError:
        """Start one ready task, or skip it (``when`` false) or fail it (a reference that cannot be
        resolved). True when it was decided without starting (the pass must run again), the
        failure that stops the run, or False when it started."""
        try:
            per_item = task.foreach is not None and when_per_item(task)
            if (
                task.when
                and not per_item
                and not conditions.evaluate(
                    task.when, self._results, self._inputs, primary_fields=self._primary
                )
            ):
                self._mark(task.id, "skipped", reason=f"condition false: {task.when}")
                return True
            if task.foreach is not None:
                # Its items start in _fill_items, within the slots left.
                items = resolve_items(task, self._results, self._inputs, self._primary, self._foreach_items)
                self._foreach_items += len(items)
                run = ForeachRun(task, items, limit=min(task.max_concurrent or self._cap, self._cap))
                self._foreach[task.id] = run
                self._mark(task.id, "running", origin="ran", **run.progress())
                return False
            params = references.resolve(
                task.parameters,
                self._results,
                self._inputs,
                primary_fields=self._primary,
                defer=self._offloaded,
            )
        except ValidationError as exc:
            # A reference that cannot be resolved is the task's failure, not the engine's.
            self._mark(task.id, "failed", error=str(exc), error_type="ValidationError")
            if task.on_error == "fail":
                return ApplicationError(
                    f"task '{task.id}' failed: {exc}",
                    self._failure_details(task.id),
                    type="TaskFailed",
                    non_retryable=True,
                )
            return True
        running[self._start(task, params)] = task.id
        return False

    def _fill_items(self, running: dict[asyncio.Task[Any], str], cap: int) -> bool | ApplicationError:
        """Start foreach items while slots are free, in task start order then item order. True when
        a foreach task ended here (its dependents may be ready), or the failure that stops the run."""
        ended = False
        for task_id in list(self._foreach):
            run = self._foreach[task_id]
            task = run.task
            while len(running) < cap and run.can_start():
                index, bindings = run.take()
                try:
                    if run.per_item_when and not conditions.evaluate(
                        task.when or "",
                        self._results,
                        self._inputs,
                        primary_fields=self._primary,
                        bindings=bindings,
                    ):
                        run.skip()
                        continue
                    params = references.resolve(
                        task.parameters,
                        self._results,
                        self._inputs,
                        primary_fields=self._primary,
                        bindings=bindings,
                        defer=self._offloaded,
                    )
                except ValidationError as exc:
                    failure = self._item_failed(run, index, str(exc), "ValidationError", None)
                    if failure is not None:
                        return failure
                    continue
                handle = self._start(task, params, index)
                running[handle] = task_id
                self._item_of[handle] = index
            if run.done:
                self._end_foreach(run)
                ended = True
            else:
                self._state[task_id] = self._state[task_id].model_copy(update=run.progress())
        return ended

    def _finish_item(self, task: TaskSpec, index: int, handle: asyncio.Task[Any]) -> ApplicationError | None:
        run = self._foreach[task.id]
        try:
            result = handle.result()
        except (ActivityError, ApplicationError) as exc:
            message, error_type, attempts = _describe_failure(exc, default_retry(task).max_attempts)
            return self._item_failed(run, index, message, error_type, attempts)
        run.succeed(index, result)
        if run.done:
            self._end_foreach(run)
        return None

    def _item_failed(
        self, run: ForeachRun, index: int, message: str, error_type: str, attempts: int | None
    ) -> ApplicationError | None:
        """One item failed: the task fails with it (naming the item), unless on_error: continue."""
        task = run.task
        what = run.fail(index, message, error_type, attempts)
        if task.on_error == "continue":
            if run.done:
                self._end_foreach(run)
            return None
        del self._foreach[task.id]
        self._mark(
            task.id,
            "failed",
            error=f"{what}: {message}",
            error_type=error_type,
            attempts=attempts,
            **run.progress(),
        )
        return ApplicationError(
            f"task '{task.id}' ({task.method}) {what}: {message}",
            self._failure_details(task.id),
            type="TaskFailed",
            non_retryable=True,
        )

    def _end_foreach(self, run: ForeachRun) -> None:
        """Every item ended: the task completes with the list of results (failed items of an
        on_error: continue task are null there and listed in ``errors``), or fails if none succeeded."""
        task_id = run.task.id
        del self._foreach[task_id]
        if run.errors and not run.completed and not run.skipped:
            first = run.errors[0]
            self._mark(
                task_id, "failed", error=run.summary(), error_type=first["error_type"], **run.progress()
            )
            return
        self._results[task_id] = run.result()
        if not self._offloaded and any(offloaded_ref(r) is not None for r in run.results):
            self._offloaded = True
        self._mark(task_id, "completed", error=run.summary(), **run.progress())

    def _start(self, task: TaskSpec, params: dict[str, Any], index: int | None = None) -> asyncio.Task[Any]:
        """Start the task's activity, or one foreach item's (``index``)."""
        info = method_info(task.method)
        if info.family in WAIT_FAMILIES:
            return self._start_wait(task, params, index)
        opts = activity_options(task)
        if opts.script_timeout is not None and "timeout" not in params:
            params = {**params, "timeout": opts.script_timeout}
        spec = self._spec
        assert spec is not None
        wf = workflow.info()
        activity_id = task.id if index is None else item_activity_id(task.id, index)
        summary = f"{task.label}: {task.method}" if index is None else f"{task.label}[{index}]: {task.method}"
        inp = TaskInput(
            workflow_id=wf.workflow_id,
            run_id=wf.run_id,
            task_id=activity_id,
            method=task.method,
            parameters=params,
            base_dir=spec.base_dir,
            file_roots=self._file_roots,
            timeout=opts.start_to_close.total_seconds(),
            retry=default_retry(task),
            deferred=self._offloaded and has_deferred(params),
        )
        # A cancelled task is only over when its activity has stopped (process killed, container
        # removed), so the workflow never closes with work still running somewhere.
        cancellation = workflow.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED
        handle: asyncio.Task[Any]
        if self._runs_locally(task):
            # Opt-in: a local activity runs inside the worker's workflow task, without the two
            # server round trips of a normal activity. Its result is recorded only when the workflow
            # task completes, so a crashed worker re-runs every local task since then; it has no
            # heartbeat (a dead worker is noticed by the workflow task timeout) and retries inside
            # the workflow task. Old histories never carry the opt-in, so replay is unchanged.
            handle = workflow.start_local_activity(
                info.activity,
                inp,
                activity_id=activity_id,
                summary=summary,
                start_to_close_timeout=opts.start_to_close,
                retry_policy=opts.retry_policy,
                result_type=dict,
                cancellation_type=cancellation,
            )
        else:
            handle = workflow.start_activity(
                info.activity,
                inp,
                activity_id=activity_id,
                summary=summary,
                start_to_close_timeout=opts.start_to_close,
                heartbeat_timeout=opts.heartbeat,
                retry_policy=opts.retry_policy,
                result_type=dict,
                cancellation_type=cancellation,
            )
        if index is None:
            self._mark(task.id, "running", origin="ran")
        return handle

    def _start_wait(self, task: TaskSpec, params: dict[str, Any], index: int | None) -> asyncio.Task[Any]:
        """Start a task that waits on the workflow side (no activity): state ``waiting``."""
        activity_id = task.id if index is None else item_activity_id(task.id, index)
        try:
            wait = plan_wait(task, activity_id, params, workflow.now())
        except ApplicationError as exc:
            failure = exc

            async def invalid() -> dict[str, Any]:
                raise failure

            if index is None:
                self._mark(task.id, "running", origin="ran")
            return asyncio.create_task(invalid())
        if index is None:
            self._mark(task.id, "waiting", origin="ran", prompt=wait.prompt, until=wait.until)
        self._details_stale = True
        return asyncio.create_task(self._approvals.start(wait))

    def _runs_locally(self, task: TaskSpec) -> bool:
        """Whether ``task`` opted into a local activity: ``metadata: {local_activities: true}`` on
        the task or the workflow (a task's own ``false`` wins). Python tasks may opt in through the
        workflow; an LLM task only through its own metadata (its calls are long and would lose their
        heartbeat), which the client's one-task ``chat()`` does: a single task has no earlier steps
        that a crash could make it repeat."""
        spec = self._spec
        assert spec is not None
        family = method_info(task.method).family
        if family == "python":
            flag = task.metadata.get(LOCAL_ACTIVITY_KEY, spec.metadata.get(LOCAL_ACTIVITY_KEY, False))
        elif family == "llm":
            flag = task.metadata.get(LOCAL_ACTIVITY_KEY, False)
        else:
            return False
        return flag is True

    def _finish(self, task: TaskSpec, handle: asyncio.Task[Any]) -> ApplicationError | None:
        """Record a finished activity; returns the workflow's failure if the run must stop."""
        index = self._item_of.pop(handle, None)
        if index is not None:
            return self._finish_item(task, index, handle)
        try:
            result = handle.result()
        except (ActivityError, ApplicationError) as exc:
            # A local activity's failure may arrive unwrapped, as the activity's own ApplicationError.
            message, error_type, attempts = _describe_failure(exc, default_retry(task).max_attempts)
            self._mark(task.id, "failed", error=message, error_type=error_type, attempts=attempts)
            if task.on_error == "continue":
                return None
            return ApplicationError(
                f"task '{task.id}' ({task.method}) failed"
                + (f" after {attempts} attempts" if attempts and attempts > 1 else "")
                + f": {message}",
                self._failure_details(task.id),
                type="TaskFailed",
                non_retryable=True,
            )
        self._record(task.id, result)
        self._mark(task.id, "completed")
        return None

    def _record(self, task_id: str, result: Any) -> None:
        self._results[task_id] = result
        if not self._offloaded and offloaded_ref(result) is not None:
            self._offloaded = True

    async def _cancel_running(self, running: dict[asyncio.Task[Any], str], reason: str) -> None:
        handles = list(running)
        for handle in handles:
            handle.cancel()
        for handle in handles:
            task_id = running.pop(handle)
            index = self._item_of.pop(handle, None)
            try:
                result = await handle
            except BaseException:  # cancelled or failed while cancelling: either way not a result
                if index is None:
                    self._mark(task_id, "cancelled", reason=reason)
            else:
                if index is None:
                    # It finished before the cancellation reached it: keep the result.
                    self._record(task_id, result)
                    self._mark(task_id, "completed")
        # A foreach task under way is cancelled as a whole (one item's result is no task result).
        for task_id, run in list(self._foreach.items()):
            del self._foreach[task_id]
            self._mark(task_id, "cancelled", reason=reason, **run.progress())

    # -- bookkeeping -------------------------------------------------------------------------------

    def _carry(self, carried: dict[str, Any]) -> None:
        """A resumed run: the tasks carried over from the earlier run are completed from the start,
        with that run's results and no activity (their dependencies are carried too; the client's
        plan makes sure of it, see gleitzeit.client.resume_plan)."""
        for task_id in list(self._state):  # file order: deterministic
            if task_id in carried:
                self._record(task_id, carried[task_id])
                self._mark(task_id, "completed", origin="carried")
                self._carried += 1

    def _mark(self, task_id: str, state: str, **fields: Any) -> None:
        old = self._state[task_id]
        now = workflow.now()
        update: dict[str, Any] = {"state": state, **fields}
        if state in ("running", "waiting"):
            update["started_at"] = now
        elif state in DONE_STATES:
            update["ended_at"] = now
        self._state[task_id] = old.model_copy(update=update)
        self._counts[old.state] -= 1
        self._counts[state] += 1
        self._pending.pop(task_id, None)
        self._waiting.pop(task_id, None)
        if state == "running":
            self._running_ids[task_id] = None
        else:
            self._running_ids.pop(task_id, None)
        if state == "waiting":
            self._held[task_id] = None
        elif old.state == "waiting":
            self._held.pop(task_id, None)
        if state == "failed":
            self._failed_ids.append(task_id)

    def _summary_counts(self) -> str:
        return ", ".join(
            f"{self._counts[s]} {s}"
            for s in ("completed", "running", "waiting", "pending", "failed", "skipped", "cancelled")
            if self._counts[s]
        )

    def _update_details(self) -> None:
        """Live progress for the web UI's 'current details'."""
        spec = self._spec
        assert spec is not None
        running = list(itertools.islice(self._running_ids, 21))
        failed = self._failed_ids[:20]
        lines = [
            f"**{spec.name}**: {self._status}",
            f"{self._summary_counts()} (of {len(self._state)})",
        ]
        if self._resumed_from:
            lines.append(f"resumed from {self._resumed_from} ({self._carried} tasks carried)")
        if running:
            lines.append("running: " + ", ".join(running[:20]) + (" ..." if len(running) > 20 else ""))
        if failed:
            lines.append("failed: " + ", ".join(failed[:20]))
        if self._held:
            lines.extend(self._approvals.details())
            timers = [t for t in itertools.islice(self._held, 21) if self._state[t].prompt is None]
            if timers:
                lines.append(
                    "waiting (timer): " + ", ".join(timers[:20]) + (" ..." if len(timers) > 20 else "")
                )
        workflow.set_current_details("\n\n".join(lines))

    def _failure_details(self, task_id: str | None) -> dict[str, Any]:
        state = self._state.get(task_id) if task_id else None
        partial = dict(self._results)
        if _size(partial) > MAX_FAILURE_DETAILS_BYTES:
            partial = {}
        return {
            "task_id": task_id,
            "error": state.error if state else None,
            "error_type": state.error_type if state else None,
            "attempts": state.attempts if state else None,
            "partial_results": partial,
            "tasks": [t.model_dump(mode="json") for t in self._state.values()],
        }

    def _outputs(self, spec: WorkflowSpec) -> dict[str, Any]:
        outputs: dict[str, Any] = {}
        for name, value in spec.outputs.items():
            try:
                outputs[name] = references.resolve(
                    value, self._results, self._inputs, primary_fields=self._primary, defer=self._offloaded
                )
            except ValidationError:
                # Its task was skipped or failed with on_error: continue: no value, not an error.
                outputs[name] = None
        return outputs
