"""``PipelineRun``: what one test run of a pipeline did, for assertions and for the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from gleitzeit.contracts.dag import TaskProgress
from gleitzeit.testing.scripted import LlmCall

__all__ = ["PipelineRun"]


@dataclass
class PipelineRun:
    """The outcome of one run on the time-skipping server.

    ``status`` is ``completed``, ``partial`` (a task with ``on_error: continue`` failed), ``failed`` or
    ``timed_out``; ``error`` and ``failed_task`` say why a run failed. ``virtual_time`` is how much
    time passed on the test server (retry backoffs and timeouts included), ``wall_time`` how long
    the run took in seconds. ``mistakes`` lists LLM calls nobody scripted (and replies that did not
    fit their call): a test fails on any, whatever it expects.
    """

    workflow_id: str
    status: str
    outputs: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    tasks: list[TaskProgress] = field(default_factory=list)
    error: str | None = None
    failed_task: str | None = None
    wall_time: float = 0.0
    virtual_time: timedelta = timedelta(0)
    llm_calls: list[LlmCall] = field(default_factory=list)
    mistakes: list[str] = field(default_factory=list)
    attempt_counts: dict[str, int] = field(default_factory=dict)
    task_names: dict[str, str] = field(default_factory=dict)  # id -> name, where a task has one

    def task_id(self, task: str) -> str:
        """The id of a task given by id or by name."""
        if task in self.task_names:
            return task
        for task_id, name in self.task_names.items():
            if name == task:
                return task_id
        return task

    def attempts(self, task: str) -> int:
        """How many times ``task`` (id or name) was attempted: 0 when it never started."""
        task_id = self.task_id(task)
        if task_id in self.attempt_counts:
            return self.attempt_counts[task_id]
        state = self.state(task_id)
        if state is None or state.state in ("pending", "skipped"):
            return 0
        return state.attempts or 1  # an activity the test does not double: Temporal's count, else one

    def state(self, task: str) -> TaskProgress | None:
        task_id = self.task_id(task)
        return next((t for t in self.tasks if t.task_id == task_id), None)

    @property
    def skipped(self) -> list[str]:
        """Ids of the tasks that were skipped (``when:`` false, or a dependency did not complete)."""
        return [t.task_id for t in self.tasks if t.state == "skipped"]

    @property
    def ok(self) -> bool:
        return self.status == "completed" and not self.mistakes
