"""The tasks that wait on the workflow side: ``time/sleep``, ``time/until`` and ``human/approval``.

None of them runs an activity, so none holds a worker slot while it waits: a sleep is one durable
timer (``workflow.sleep``); an approval waits for DagWorkflow's ``approve`` update
(``ApprovalAnswer``), with a timer when it has a ``timeout``. A worker or server restart changes
nothing: the timer and the update are in the history.

The update's validator (``Approvals.refusal``) refuses, before anything enters the history, an
answer to a task that does not exist, is no approval, is not waiting (not started yet, or already
answered), from someone not among its ``approvers``, or whose ``data`` fails the task's ``schema``.

Results: a timer ``{slept: seconds, until: ISO time}``; an approval ``{approved: true, data, by,
reason, at, timed_out}``. A rejection fails the task non-retryably with "rejected by <by>: <reason>"
(type ``Rejected``); no answer within the timeout fails it (``on_timeout: fail``, type
``ApprovalTimeout``), rejects it or approves it, as ``on_timeout`` says.

Determinism: the time comes from ``workflow.now()``; pending approvals are an insertion-ordered dict.
"""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    import pydantic
    from jsonschema.validators import validator_for

    from gleitzeit.contracts.dag import ApprovalAnswer, TaskProgress
    from gleitzeit.contracts.spec import TaskSpec
    from gleitzeit.dsl.params import ApprovalParams, SleepParams, UntilParams, parse_at, runtime_problem

__all__ = [
    "NOT_WAITING",
    "NO_SUCH_TASK",
    "REFUSED_ANSWER",
    "Approvals",
    "Wait",
    "describe_seconds",
    "plan_wait",
]

# The ApplicationError types of a refused answer (the client maps them: 404, 409, 422).
NO_SUCH_TASK = "NoSuchApproval"
NOT_WAITING = "ApprovalNotWaiting"
REFUSED_ANSWER = "ApprovalRefused"

PROMPT_SHOWN = 500  # characters of a prompt in the web UI's current details


def describe_seconds(seconds: float) -> str:
    """``48h``, ``3d``, ``90s``, ``1h30m``: a duration as people write it."""
    rest = round(seconds)
    if rest <= 0:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts)


@dataclass
class Wait:
    """One waiting task, its parameters checked: a timer (``prompt`` None) or an approval."""

    task: TaskSpec
    activity_id: str
    seconds: float | None  # None: an approval without a timeout
    until: datetime | None
    prompt: str | None = None
    approval: ApprovalParams | None = None


def plan_wait(task: TaskSpec, activity_id: str, params: dict[str, Any], now: datetime) -> Wait:
    """The wait ``params`` (resolved) ask for; the task's non-retryable failure when they are invalid."""
    try:
        if task.method == "time/sleep":
            duration = SleepParams.model_validate(params).duration or 0.0
            return Wait(task, activity_id, duration, now + timedelta(seconds=duration))
        if task.method == "time/until":
            at = parse_at(UntilParams.model_validate(params).at)
            return Wait(task, activity_id, max((at - now).total_seconds(), 0.0), at)
        approval = ApprovalParams.model_validate(params)
    except pydantic.ValidationError as exc:
        key, message, _ = runtime_problem(exc)
        raise ApplicationError(
            f"invalid parameter '{key}': {message}", type="InvalidParameters", non_retryable=True
        ) from None
    timeout = approval.timeout
    until = now + timedelta(seconds=timeout) if timeout is not None else None
    return Wait(task, activity_id, timeout, until, approval.prompt or "", approval)


@dataclass
class _Pending:
    wait: Wait
    answer: ApprovalAnswer | None = None
    at: datetime | None = None


@dataclass
class Approvals:
    """The run's approvals waiting for an answer (task id -> its wait), and how each one waits."""

    pending: dict[str, _Pending] = field(default_factory=dict)

    def refusal(
        self, answer: ApprovalAnswer, tasks: dict[str, TaskSpec], states: dict[str, TaskProgress]
    ) -> tuple[str, str] | None:
        """(error type, why) ``answer`` is refused (the update's validator), or None when it is
        accepted. Pure."""
        task_id = answer.task_id
        approvals = [t for t, spec in tasks.items() if spec.method == "human/approval"]
        if task_id not in tasks:
            known = ", ".join(approvals[:10]) or "none"
            return NO_SUCH_TASK, f"this run has no task '{task_id}' (its human/approval tasks: {known})"
        method = tasks[task_id].method
        if method != "human/approval":
            return (
                NO_SUCH_TASK,
                f"task '{task_id}' is a {method} task, not a human/approval: nothing to approve",
            )
        pending = self.pending.get(task_id)
        if pending is None:
            state = states[task_id].state
            if state in ("pending", "running"):
                return (
                    NOT_WAITING,
                    f"task '{task_id}' is not waiting for an answer yet ({state}): try again when it is",
                )
            return (
                NOT_WAITING,
                f"task '{task_id}' is not waiting for an answer: it is {state} (answered or ended before)",
            )
        if pending.answer is not None:
            return NOT_WAITING, f"task '{task_id}' was already answered"
        params = pending.wait.approval
        assert params is not None
        if params.approvers and answer.by not in params.approvers:
            who = f"'{answer.by}'" if answer.by else "an answer without a name (--by)"
            return (
                REFUSED_ANSWER,
                f"{who} is not among the approvers of task '{task_id}': {', '.join(params.approvers)}",
            )
        if answer.approved and params.schema_ is not None:
            validator = validator_for(params.schema_)(params.schema_)
            error = next(iter(validator.iter_errors(answer.data)), None)
            if error is not None:
                where = "/".join(str(p) for p in error.absolute_path)
                return (
                    REFUSED_ANSWER,
                    f"the data does not match task '{task_id}''s schema{f' at {where}' if where else ''}: {error.message}",
                )
        return None

    def answer(self, answer: ApprovalAnswer, now: datetime) -> dict[str, Any]:
        """Record an accepted answer (the update's handler); the task's result when approved."""
        pending = self.pending[answer.task_id]
        pending.answer = answer
        pending.at = now
        return _result(answer, now, timed_out=False)

    def start(self, wait: Wait) -> Coroutine[Any, Any, dict[str, Any]]:
        """The coroutine that runs one waiting task to its result (or its failure). An approval is
        registered at once, so an answer arriving before the coroutine first runs is accepted."""
        if wait.approval is None:
            return _timer(wait)
        pending = _Pending(wait)
        self.pending[wait.activity_id] = pending
        return self._approval(pending)

    async def _approval(self, pending: _Pending) -> dict[str, Any]:
        wait = pending.wait
        label = f"{wait.task.label}: {wait.task.method}"
        try:
            await workflow.wait_condition(
                lambda: pending.answer is not None,
                timeout=wait.seconds,
                timeout_summary=f"{label} timeout" if wait.seconds is not None else None,
            )
        except TimeoutError:
            return _timed_out(wait)
        finally:
            del self.pending[wait.activity_id]
        answer = pending.answer
        assert answer is not None and pending.at is not None
        if not answer.approved:
            raise ApplicationError(
                f"rejected by {answer.by or 'an approver'}: {answer.reason or 'no reason given'}",
                type="Rejected",
                non_retryable=True,
            )
        return _result(answer, pending.at, timed_out=False)

    def details(self) -> list[str]:
        """Lines for the web UI's current details: what each approval waits for."""
        return [
            f"waiting for approval: {p.wait.prompt[:PROMPT_SHOWN]}"
            + ("..." if len(p.wait.prompt or "") > PROMPT_SHOWN else "")
            + f" (task {task_id})"
            for task_id, p in self.pending.items()
            if p.answer is None and p.wait.prompt is not None
        ]


async def _timer(wait: Wait) -> dict[str, Any]:
    if wait.seconds:
        await workflow.sleep(wait.seconds, summary=f"{wait.task.label}: {wait.task.method}")
    assert wait.until is not None
    return {"slept": wait.seconds, "until": wait.until.isoformat()}


def _result(answer: ApprovalAnswer, at: datetime, *, timed_out: bool) -> dict[str, Any]:
    return {
        "approved": answer.approved,
        "data": answer.data,
        "by": answer.by,
        "reason": answer.reason,
        "at": at.isoformat(),
        "timed_out": timed_out,
    }


def _timed_out(wait: Wait) -> dict[str, Any]:
    params = wait.approval
    assert params is not None and wait.seconds is not None
    after = f"no answer within {describe_seconds(wait.seconds)}"
    if params.on_timeout == "approve":
        answer = ApprovalAnswer(
            task_id=wait.activity_id, approved=True, reason=f"{after} (on_timeout: approve)"
        )
        return _result(answer, workflow.now(), timed_out=True)
    if params.on_timeout == "reject":
        raise ApplicationError(f"rejected by timeout: {after}", type="Rejected", non_retryable=True)
    raise ApplicationError(after, type="ApprovalTimeout", non_retryable=True)
