"""Activity doubles for workflow tests: registered under the real activity names, scripted per task.

``ScriptedActivities`` answers every task method; what a task does on each attempt is scripted with
``plan(task_id, *steps)``; unscripted tasks succeed at once. Every call is recorded (task, attempt,
start, end) and the peak concurrency is tracked, so tests assert on the engine's scheduling.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from gleitzeit.contracts.tasks import TaskInput


@dataclass
class Step:
    """One attempt's behaviour."""

    sleep: float = 0.0
    result: dict[str, Any] | None = None
    error: str | None = None
    error_type: str = "LLMServerError"
    non_retryable: bool = False
    forever: bool = False  # wait until cancelled


def ok(**result: Any) -> Step:
    return Step(result=result)


def fail(message: str = "boom", *, non_retryable: bool = False, error_type: str = "LLMServerError") -> Step:
    return Step(error=message, non_retryable=non_retryable, error_type=error_type)


@dataclass
class Call:
    task_id: str
    method: str
    attempt: int
    parameters: dict[str, Any]
    started: float
    ended: float | None = None
    outcome: str = "running"


@dataclass
class ScriptedActivities:
    plans: dict[str, list[Step]] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    running: int = 0
    peak: int = 0
    cancelled: list[str] = field(default_factory=list)
    # default result for an unscripted task, from its input
    default: Callable[[TaskInput], dict[str, Any]] | None = None

    def plan(self, task_id: str, *steps: Step) -> ScriptedActivities:
        self.plans[task_id] = list(steps)
        return self

    def calls_for(self, task_id: str) -> list[Call]:
        return [c for c in self.calls if c.task_id == task_id]

    def started_order(self) -> list[str]:
        return [c.task_id for c in sorted(self.calls, key=lambda c: c.started)]

    async def _run(self, inp: TaskInput) -> dict[str, Any]:
        attempt = activity.info().attempt
        steps = self.plans.get(inp.task_id, [])
        step = steps[min(attempt, len(steps)) - 1] if steps else Step()
        call = Call(inp.task_id, inp.method, attempt, inp.parameters, time.monotonic())
        self.calls.append(call)
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            if step.forever:
                while True:
                    activity.heartbeat()
                    await asyncio.sleep(0.2)
            if step.sleep:
                await asyncio.sleep(step.sleep)
            if step.error:
                call.outcome = "failed"
                raise ApplicationError(
                    step.error, {"x": 1}, type=step.error_type, non_retryable=step.non_retryable
                )
            call.outcome = "completed"
            if step.result is not None:
                return step.result
            if self.default is not None:
                return self.default(inp)
            if inp.method.startswith("python/"):
                return {
                    "result": {"task": inp.task_id, "params": inp.parameters},
                    "output": "",
                    "exit_code": 0,
                }
            return {"response": f"answer of {inp.task_id}", "model": "double", "tokens_used": 3}
        except asyncio.CancelledError:
            call.outcome = "cancelled"
            self.cancelled.append(inp.task_id)
            raise
        finally:
            call.ended = time.monotonic()
            self.running -= 1

    def activities(self) -> list[Callable[..., Any]]:
        """The doubles, one per real activity name."""

        def make(name: str) -> Callable[..., Any]:
            @activity.defn(name=name)
            async def double(inp: TaskInput) -> dict[str, Any]:
                return await self._run(inp)

            return double

        return [make(n) for n in ("llm.chat", "llm.generate", "llm.vision", "llm.embed", "python.execute")]
