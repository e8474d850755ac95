"""``PipelineTest``: test a pipeline from Python (pytest or anything async), the way ``*.test.yaml`` does.

::

    from gleitzeit.testing import PipelineTest

    async def test_summarise():
        async with PipelineTest() as t:
            t.llm.reply("write", "Rivers flow to the sea", fail=2)   # 2 transient failures first
            t.llm.reply(match="^A title for", reply="On Rivers")
            t.scripts.result("fetch", {"rows": 3})
            run = await t.run("summarise.yaml", {"topic": "rivers"})
        assert run.status == "completed" and run.outputs["title"] == "On Rivers"
        assert run.attempts("write") == 3 and run.skipped == []
        print(run.virtual_time)          # retry backoffs and timeouts passed in virtual time

What is scripted applies to every later ``run`` of the same ``PipelineTest`` (each run counts its own
calls); ``reset()`` forgets it.
"""

from __future__ import annotations

import os
import re
from typing import Any

from temporalio.testing import WorkflowEnvironment

from gleitzeit.config import Settings
from gleitzeit.dsl.batch import expand_batch
from gleitzeit.dsl.inputs import bind_inputs
from gleitzeit.dsl.loader import load_workflow
from gleitzeit.testing.result import PipelineRun
from gleitzeit.testing.scripted import ALWAYS, LlmEntry, Script, ScriptEntry
from gleitzeit.testing.session import TestSession

__all__ = ["LlmScript", "PipelineTest", "ScriptResults"]


class LlmScript:
    """Scripted LLM answers, tried in the order they were given."""

    def __init__(self, script: Script) -> None:
        self._script = script

    def reply(
        self,
        task: str | None = None,
        reply: Any = None,
        *,
        match: str | None = None,
        fail: int = 0,
    ) -> LlmScript:
        """Answer calls of ``task`` (id or name) and/or whose prompt matches the regex ``match``.

        ``reply``: text, a JSON-able object (for ``format:`` tasks), a list (one per call) or
        ``{"embedding": [...]}``; the first ``fail`` calls fail as a transient error first.
        """
        if match is not None:
            re.compile(match)  # a bad pattern fails here, where it was written
        where = f"llm.reply({task!r})" if task else f"llm.reply(match={match!r})"
        self._script.llm.append(LlmEntry(reply, task, match, fail, None, where))
        return self

    def fail(
        self,
        task: str | None = None,
        *,
        match: str | None = None,
        times: int | None = None,
        message: str | None = None,
        then: Any = None,
    ) -> LlmScript:
        """Make calls fail as a transient error: the first ``times`` (then answer ``then``), or all."""
        if match is not None:
            re.compile(match)
        where = f"llm.fail({task!r})" if task else f"llm.fail(match={match!r})"
        count = ALWAYS if times is None else times
        self._script.llm.append(LlmEntry(then, task, match, count, message, where))
        return self


class ScriptResults:
    """Python tasks whose result is given instead of running their script."""

    def __init__(self, script: Script) -> None:
        self._script = script

    def result(self, task: str, value: Any, *, fail: int = 0) -> ScriptResults:
        """``task`` returns ``value`` (after ``fail`` transient failures)."""
        self._script.scripts.append(ScriptEntry(task, value, fail, None, f"scripts.result({task!r})"))
        return self

    def error(self, task: str, message: str = "scripted script error") -> ScriptResults:
        """``task``'s script fails on its own (a ScriptError: not retried)."""
        self._script.scripts.append(ScriptEntry(task, None, 0, message, f"scripts.error({task!r})"))
        return self


class PipelineTest:
    """An async context manager owning a time-skipping test server and a worker with scripted doubles.

    ``settings`` default to the environment's; scripts run with the local executor. ``env`` shares a
    time-skipping ``WorkflowEnvironment`` someone else started (a session fixture), instead of
    starting a test server per ``PipelineTest`` (~1 s).
    """

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, settings: Settings | None = None, *, env: WorkflowEnvironment | None = None) -> None:
        self._session = TestSession(settings, env=env)
        self._script = Script()
        self.llm = LlmScript(self._script)
        self.scripts = ScriptResults(self._script)

    async def __aenter__(self) -> PipelineTest:
        await self._session.__aenter__()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._session.__aexit__(*exc)

    def reset(self) -> None:
        """Forget every scripted answer."""
        self._script.llm.clear()
        self._script.scripts.clear()

    async def run(
        self, pipeline: str | os.PathLike[str] | dict[str, Any], inputs: dict[str, Any] | None = None
    ) -> PipelineRun:
        """Run a pipeline (a file, or a dict) to its end with the scripted answers.

        Raises ``gleitzeit.core.errors.ValidationError`` for an invalid pipeline or inputs; a run
        that fails is a result (``run.status == "failed"``, ``run.error``), not an exception.
        """
        spec = expand_batch(load_workflow(pipeline))
        bound = bind_inputs(spec, inputs or {})
        return await self._session.run(spec, bound, self._script)
