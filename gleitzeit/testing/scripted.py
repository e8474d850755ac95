"""What a test scripts instead of the real world: LLM answers and python results, and one run's calls.

``LlmEntry`` answers LLM calls chosen by task (id or name) and/or a regex on the prompt; ``ScriptEntry``
replaces a python task's result. A ``Script`` holds both lists for one case; a ``CaseCalls`` records
one run's calls (attempts per task, what each LLM call asked, calls nobody scripted), so entries count
their own calls per run and two runs never share counters.

The answers have the shapes the real activities return (``contracts.tasks``), so references such as
``${write.response}``, ``${title.parsed.x}``, ``${embed.embedding}`` and ``${fetch.result.rows}`` work
unchanged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from gleitzeit.contracts.tasks import EmbedResult, LlmResult, PythonResult

__all__ = [
    "ALWAYS",
    "CaseCalls",
    "LlmCall",
    "LlmEntry",
    "Script",
    "ScriptEntry",
    "llm_answer",
    "python_answer",
]

# ``fail: always``: every call fails (a task that never recovers).
ALWAYS = -1
# The message of a scripted failure when the test gives none.
DEFAULT_FAILURE = "scripted transient failure"


@dataclass
class LlmEntry:
    """One scripted answer; matches a call by ``task`` and/or ``match`` (a regex on the prompt).

    ``reply`` is the answer text, a JSON object (for ``format:`` tasks), a list (one reply per call) or
    ``{"embedding": [...]}``; the first ``fail`` calls fail as a transient error (``ALWAYS``: all).
    """

    reply: Any = None
    task: str | None = None
    match: str | None = None
    fail: int = 0
    error: str | None = None
    where: str = ""  # "llm[2]" or "the llm.reply(...) call": named in messages

    def matches(self, task_ids: tuple[str, ...], prompt: str) -> bool:
        if self.task is not None and self.task not in task_ids:
            return False
        return self.match is None or re.search(self.match, prompt) is not None


@dataclass
class ScriptEntry:
    """Replaces a python task: ``result`` is what the script would have printed; ``fail`` transient
    failures first (``ALWAYS``: all), or ``error``: the script's own failure (not retried)."""

    task: str
    result: Any = None
    fail: int = 0
    error: str | None = None
    where: str = ""


@dataclass
class Script:
    """Everything scripted for one case."""

    llm: list[LlmEntry] = field(default_factory=list)
    scripts: list[ScriptEntry] = field(default_factory=list)


@dataclass
class LlmCall:
    """One LLM call a run made: what was asked and what came back (for messages and ``--record``)."""

    task_id: str
    method: str
    attempt: int
    prompt: str
    answer: dict[str, Any] | None = None


@dataclass
class CaseCalls:
    """One run's calls. Counters are per entry index, so a script can be reused by many runs."""

    script: Script
    task_names: dict[str, str] = field(default_factory=dict)  # task id -> name, for `task:` by name
    attempts: dict[str, int] = field(default_factory=dict)
    entry_calls: dict[int, int] = field(default_factory=dict)
    llm_calls: list[LlmCall] = field(default_factory=list)
    # Calls nobody scripted and replies that do not fit the call: each fails the case, whatever it expects.
    mistakes: list[str] = field(default_factory=list)

    def attempt(self, task_id: str) -> None:
        self.attempts[task_id] = self.attempts.get(task_id, 0) + 1

    def ids(self, task_id: str) -> tuple[str, ...]:
        name = self.task_names.get(task_id)
        return (task_id, name) if name else (task_id,)

    def next_call(self, index: int) -> int:
        """This entry's call number in this run, 1-based."""
        self.entry_calls[index] = self.entry_calls.get(index, 0) + 1
        return self.entry_calls[index]


def _fails(fail: int, call: int) -> bool:
    return fail == ALWAYS or call <= fail


def _failure(entry: LlmEntry | ScriptEntry, call: int) -> str:
    if entry.error:
        return entry.error
    which = "every call" if entry.fail == ALWAYS else f"call {call} of {entry.fail}"
    return f"{DEFAULT_FAILURE} ({which}, {entry.where})"


Outcome = tuple[Literal["ok"], dict[str, Any]] | tuple[Literal["retry", "error"], str]


def llm_answer(entry: LlmEntry, call: int, method: str, params: Any, texts: int) -> Outcome:
    """The outcome of ``entry``'s ``call``-th call: a result dict, or a failure to raise.

    ``params`` is the method's parameter model (for the model name and ``format``), ``texts`` the
    number of inputs an embed call sent.
    """
    if _fails(entry.fail, call):
        return "retry", _failure(entry, call)
    reply = entry.reply
    if isinstance(reply, list) and not _is_vector(reply):
        served = call - max(entry.fail, 0)
        if served > len(reply):
            return "error", (
                f"{entry.where} has {len(reply)} replies but was called a {_ordinal(served)} time; "
                "add a reply to its list"
            )
        reply = reply[served - 1]
    model = str(getattr(params, "model", None) or "scripted")
    if method == "llm/embed":
        if isinstance(reply, dict) and "embeddings" in reply:
            vectors = [list(map(float, v)) for v in reply["embeddings"]]
        elif isinstance(reply, dict) and "embedding" in reply:
            vectors = [list(map(float, reply["embedding"]))] * max(texts, 1)
        else:
            return "error", f"{entry.where}: an llm/embed task needs a reply like {{embedding: [0.1, 0.2]}}"
        result = EmbedResult(embeddings=vectors, model=model).model_dump(exclude_none=True)
        result["embedding"] = vectors[0] if vectors else []
        return "ok", result
    parsed: Any = None
    if isinstance(reply, str):
        text = reply
        if getattr(params, "format", None):
            try:
                parsed = json.loads(reply)
            except json.JSONDecodeError:
                return "error", (
                    f"{entry.where}: the task asks for format: json, but the reply is not JSON; "
                    "write the reply as a YAML mapping or a JSON string"
                )
    else:
        text, parsed = json.dumps(reply), reply
    answer = LlmResult(
        response=text, model=model, tokens_used=len(text.split()), done_reason="stop", parsed=parsed
    )
    return "ok", answer.model_dump(exclude_none=True)


def python_answer(entry: ScriptEntry, call: int) -> Outcome:
    if _fails(entry.fail, call):
        return "retry", _failure(entry, call)
    if entry.error is not None and entry.fail != ALWAYS:
        return "error", entry.error
    output = json.dumps(entry.result)
    return "ok", PythonResult(result=entry.result, output=output, executor="scripted").model_dump()


def _is_vector(value: list[Any]) -> bool:
    return bool(value) and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value)


def _ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"
