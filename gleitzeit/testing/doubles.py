"""The test worker's activities: scripted LLM calls, python tasks run for real unless scripted.

Registered under the real activity names (``llm.chat``, ``python.execute``, ...), as Gleitzeit's own
workflow tests do, so the real DagWorkflow runs unchanged. One ``TestActivities`` serves every run of
a session: it finds the run's ``CaseCalls`` by workflow id. Every other activity a worker registers
(whatever methods exist besides llm/* and python/*) stays the real one.

Failures take the shapes the real activities give them: a scripted transient failure is a retryable
``LLMServerError`` (the task's retry policy applies, with its backoff skipped by the test server); a
scripted script error is a non-retryable ``ScriptError``; a call nobody scripted is non-retryable and
is recorded, so the case fails naming the task, the prompt and the ``llm:`` entry to add.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from temporalio import activity
from temporalio.exceptions import ApplicationError

from gleitzeit.activities.llm import parse_params
from gleitzeit.activities.python import PythonActivities
from gleitzeit.config import Settings
from gleitzeit.contracts.tasks import TaskInput
from gleitzeit.dsl.params import (
    ChatLikeParams,
    ChatParams,
    EmbedParams,
    GenerateParams,
    LlmParams,
    VisionParams,
)
from gleitzeit.testing.scripted import CaseCalls, LlmCall, llm_answer, python_answer
from gleitzeit.worker.build import task_activities

__all__ = ["LLM_ACTIVITIES", "TestActivities", "activity_name", "prompt_of", "unscripted_message"]

# Activity name -> (method, parameter model).
LLM_ACTIVITIES: dict[str, tuple[str, type[LlmParams]]] = {
    "llm.chat": ("llm/chat", ChatParams),
    "llm.generate": ("llm/generate", GenerateParams),
    "llm.vision": ("llm/vision", VisionParams),
    "llm.embed": ("llm/embed", EmbedParams),
}
PYTHON_ACTIVITY = "python.execute"


def activity_name(fn: Callable[..., Any]) -> str | None:
    """The name an activity callable is registered under (the SDK keeps its definition on it)."""
    definition = activity._Definition.from_callable(fn)  # the SDK's one lookup; no public twin
    return definition.name if definition else None


def prompt_of(params: LlmParams) -> str:
    """What ``match:`` is tried against: the last user message, the prompt, or the texts to embed."""
    if isinstance(params, ChatLikeParams):
        try:
            messages = params.chat_messages()
        except ValueError:
            return ""
        users = [m for m in messages if m.get("role") == "user"]
        return str((users or messages)[-1].get("content") or "")
    if isinstance(params, EmbedParams):
        return "\n".join(params.texts())
    return str(getattr(params, "prompt", None) or "")


def unscripted_message(task_id: str, method: str, prompt: str) -> str:
    shown = prompt if len(prompt) <= 300 else prompt[:300] + " ..."
    reply = "{embedding: [0.1, 0.2, 0.3]}" if method == "llm/embed" else '"..."'
    return (
        f"task '{task_id}' ({method}) made an LLM call that no llm: entry answers; prompt: {shown!r}; "
        f"add an entry to the test's llm: block: {{task: {task_id}, reply: {reply}}} "
        "(or record real answers with gleitzeit test --record)"
    )


class TestActivities:
    """Activities for a test worker; ``runs`` maps a workflow id to its run's ``CaseCalls``."""

    __test__ = False  # not a pytest test class, whatever its name

    def __init__(self, settings: Settings, *, llm_override: dict[str, Callable[..., Any]] | None = None):
        self.settings = settings
        self.runs: dict[str, CaseCalls] = {}
        self._python = PythonActivities(settings)
        # --record: the real LLM activities answer, and what they answered is kept.
        self._llm_override = llm_override or {}

    def _calls(self, inp: TaskInput) -> CaseCalls:
        calls = self.runs.get(inp.workflow_id or activity.info().workflow_id or "")
        if calls is None:  # a run that no test started on this queue: nothing to answer from
            raise ApplicationError(f"no test case owns workflow {inp.workflow_id}", non_retryable=True)
        return calls

    async def _llm(self, name: str, inp: TaskInput) -> dict[str, Any]:
        method, model = LLM_ACTIVITIES[name]
        calls = self._calls(inp)
        calls.attempt(inp.task_id)
        params = parse_params(model, inp.parameters)  # the real activity's check of its parameters
        prompt = prompt_of(params)
        call = LlmCall(inp.task_id, method, activity.info().attempt, prompt)
        calls.llm_calls.append(call)
        real = self._llm_override.get(name)
        if real is not None:
            call.answer = await real(inp)
            return call.answer
        ids = calls.ids(inp.task_id)
        for index, entry in enumerate(calls.script.llm):
            if not entry.matches(ids, prompt):
                continue
            texts = len(params.texts()) if isinstance(params, EmbedParams) else 1
            kind, value = llm_answer(entry, calls.next_call(index), method, params, texts)
            if kind == "ok":
                assert isinstance(value, dict)
                call.answer = value
                return value
            if kind == "retry":
                raise ApplicationError(str(value), {"scripted": entry.where}, type="LLMServerError")
            calls.mistakes.append(f"task '{inp.task_id}': {value}")
            raise ApplicationError(str(value), type="ScriptedReplyError", non_retryable=True)
        message = unscripted_message(inp.task_id, method, prompt)
        calls.mistakes.append(message)
        raise ApplicationError(message, type="UnscriptedLLMCall", non_retryable=True)

    async def _script(self, inp: TaskInput) -> Any:
        calls = self._calls(inp)
        calls.attempt(inp.task_id)
        ids = calls.ids(inp.task_id)
        for index, entry in enumerate(calls.script.scripts):
            if entry.task not in ids:
                continue
            kind, value = python_answer(entry, calls.next_call(1_000_000 + index))
            if kind == "ok":
                return value
            if kind == "retry":
                raise ApplicationError(str(value), {"scripted": entry.where}, type="TransientError")
            raise ApplicationError(
                str(value),
                {"executor": "scripted", "exit_code": 1, "stderr_tail": str(value)},
                type="ScriptError",
                non_retryable=True,
            )
        return await self._python.execute(inp)

    def all(self) -> list[Callable[..., Any]]:
        """One activity per real name: the doubles, then every other real activity unchanged."""

        def llm(name: str) -> Callable[..., Any]:
            @activity.defn(name=name)
            async def double(inp: TaskInput) -> dict[str, Any]:
                return await self._llm(name, inp)

            return double

        @activity.defn(name=PYTHON_ACTIVITY)
        async def script(inp: TaskInput) -> Any:
            return await self._script(inp)

        doubles = [*(llm(n) for n in LLM_ACTIVITIES), script]
        taken = {*LLM_ACTIVITIES, PYTHON_ACTIVITY}
        return doubles + [fn for fn in task_activities(self.settings) if activity_name(fn) not in taken]
