"""The yardstick: a minimal hand-written Temporal workflow running the same activity (``python.execute``,
or ``llm.chat`` for the LLM fan-out).

What an engineer would write without Gleitzeit: a loop of ``execute_activity`` calls for the chain, a
semaphore and ``gather`` for the fan-out. No YAML, references, progress or summaries: the difference to
``DagWorkflow`` on the same server and worker is the cost of the interpreter.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from pydantic import BaseModel, Field
from temporalio import workflow

with workflow.unsafe.imports_passed_through():
    from gleitzeit.contracts.tasks import TaskInput

__all__ = ["HAND_WORKFLOWS", "HandChain", "HandChat", "HandFanOut", "HandInput"]

ACTIVITY_TIMEOUT = timedelta(seconds=90)


class HandInput(BaseModel):
    n: int
    cap: int = 50
    parameters: dict[str, Any] = Field(default_factory=dict)
    # The activity every task runs (its method name), and per-task parameters where they differ
    # (task i gets ``task_parameters[i]``; the LLM fan-out of row 11 asks a different question each).
    activity: str = "python.execute"
    task_parameters: list[dict[str, Any]] = Field(default_factory=list)
    # False: the fan-out returns None per task, as one would whose results (1,000 x 10 KB, row 12)
    # are over the 2 MiB a workflow result may be; they stay in the history.
    keep_results: bool = True


def _task(i: int, inp: HandInput) -> TaskInput:
    parameters = inp.task_parameters[i] if inp.task_parameters else inp.parameters
    return TaskInput(task_id=f"t{i}", method=inp.activity.replace(".", "/"), parameters=parameters)


@workflow.defn(name="BenchHandChain")
class HandChain:
    @workflow.run
    async def run(self, inp: HandInput) -> list[Any]:
        results = []
        for i in range(inp.n):
            results.append(
                await workflow.execute_activity(
                    "python.execute",
                    _task(i, inp),
                    activity_id=f"t{i}",
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    result_type=dict,
                )
            )
        return results


@workflow.defn(name="BenchHandFanOut")
class HandFanOut:
    @workflow.run
    async def run(self, inp: HandInput) -> list[Any]:
        slots = asyncio.Semaphore(inp.cap)

        async def one(i: int) -> Any:
            async with slots:
                result = await workflow.execute_activity(
                    inp.activity,
                    _task(i, inp),
                    activity_id=f"t{i}",
                    start_to_close_timeout=ACTIVITY_TIMEOUT,
                    result_type=dict,
                )
                return result if inp.keep_results else None

        return list(await asyncio.gather(*(one(i) for i in range(inp.n))))


@workflow.defn(name="BenchHandChat")
class HandChat:
    """The floor of a durable chat: the same ``llm.chat`` activity code as a local activity in a workflow
    started eagerly, with nothing else around it."""

    @workflow.run
    async def run(self, inp: TaskInput) -> dict[str, Any]:
        result: dict[str, Any] = await workflow.execute_local_activity(
            "llm.chat", inp, start_to_close_timeout=ACTIVITY_TIMEOUT, result_type=dict
        )
        return result


HAND_WORKFLOWS: tuple[type, ...] = (HandChain, HandFanOut, HandChat)
