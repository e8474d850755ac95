"""Input and result models of the task activities: one input model, one result model per family.

The DAG workflow sends every task as a ``TaskInput`` with its parameters already resolved; the
activity returns its family's result model, which the workflow stores as a plain dict so later
references (``${task.response}``) can walk it.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from gleitzeit.contracts.spec import RetrySpec

__all__ = [
    "DEFERRED_KEY",
    "DEFERRED_TEXT_KEY",
    "OFFLOADED_KEY",
    "EmbedResult",
    "LlmResult",
    "McpResult",
    "OffloadedResult",
    "PythonResult",
    "TaskInput",
    "has_deferred",
    "offloaded_ref",
]

# A task result too large to cross Temporal is stored as a blob and stands in the workflow's results
# as ``{OFFLOADED_KEY: OffloadedResult}`` (docs/results.md, "Large results"). A reference into it that
# a later task's parameters make is passed to that task's activity as ``{DEFERRED_KEY: {...}}`` (one
# reference: blob, path, primary field) or ``{DEFERRED_TEXT_KEY: [text | deferred, ...]}`` (references
# inside a longer string), which the activity resolves before it runs (gleitzeit.activities.offload).
OFFLOADED_KEY = "$offloaded"
DEFERRED_KEY = "$deferred"
DEFERRED_TEXT_KEY = "$deferred_text"


class TaskInput(BaseModel):
    workflow_id: str = ""
    run_id: str = ""
    task_id: str
    method: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    # Directory of the workflow file: relative file_path/image_path/file resolve against it first.
    base_dir: str | None = None
    # Seconds for one attempt (the start-to-close timeout the workflow set), for inner deadlines.
    timeout: float | None = None
    # The task's retry block: the worker's interceptor turns it into next_retry_delay for the
    # backoffs Temporal lacks (linear) and for jitter.
    retry: RetrySpec | None = None
    # The roots the run was started with (the REST API's): every file a task opens must lie inside
    # them, on whichever worker runs it (gleitzeit.core.files.read_roots). None: the worker's own rule.
    file_roots: list[str] | None = None
    # True when ``parameters`` hold deferred references to offloaded results (the workflow sets it):
    # only then does the activity side look for them and read blobs.
    deferred: bool = False


class LlmResult(BaseModel):
    response: str
    model: str
    tokens_used: int = 0  # eval_count: tokens generated
    prompt_tokens: int = 0  # prompt_eval_count
    done_reason: str | None = None
    total_duration: int | None = None  # nanoseconds, as Ollama reports them
    load_duration: int | None = None
    prompt_eval_duration: int | None = None
    eval_duration: int | None = None
    # With format=json or a JSON schema: the response parsed.
    parsed: Any = None
    images_analyzed: list[str] | None = None
    # With several Ollama hosts (providers.ollama_pool / OLLAMA_HOSTS): the instance that answered.
    host: str | None = None
    host_url: str | None = None


class EmbedResult(BaseModel):
    embeddings: list[list[float]]
    model: str
    prompt_tokens: int = 0
    total_duration: int | None = None

    @property
    def embedding(self) -> list[float]:
        return self.embeddings[0] if self.embeddings else []


class PythonResult(BaseModel):
    result: Any = None  # the script's JSON output
    output: str = ""  # stdout (what was not the result), truncated
    # The original's shape: None on success (a failed script raises ScriptError instead of returning).
    error: str | None = None
    stderr: str = ""  # the tail of what the script wrote to stderr (its logs)
    exit_code: int = 0
    executor: str = "local"  # "docker" | "local"
    duration: float = 0.0  # seconds
    # Which worker process ran the attempt ("hostname:pid"): shows how work spread over the workers.
    worker: str = ""


class McpResult(BaseModel):
    """An MCP tool call, in the original Gleitzeit's shape ``{response, tool, success}``.

    ``response`` is the tool's text (its text content blocks joined); ``result`` its value: the
    structured content (unwrapped when it is ``{"result": value}``, as SDK servers wrap plain return
    values), else the text. So ``${echo.response}`` is the echoed text and ``${sum.result}`` the number.
    """

    response: str = ""
    result: Any = None
    tool: str
    server: str = ""
    success: bool = True
    structured: dict[str, Any] | None = None


class OffloadedResult(BaseModel):
    """A task result over the offload threshold, stored content-addressed under the data dir
    (``<data_dir>/results/<sha256>.json``); what crosses Temporal instead of the result."""

    sha256: str
    size: int  # bytes of the result's JSON
    method: str = ""
    # What it is, for people reading the history or the web UI: its fields and their sizes.
    summary: str = ""
    # Set in a foreach task's ``result`` list: the item's primary value (its "result", else this
    # field), not the whole stored result.
    pick: str | None = None

    def marker(self) -> dict[str, Any]:
        return {OFFLOADED_KEY: self.model_dump()}


def offloaded_ref(value: Any) -> OffloadedResult | None:
    """The blob reference when ``value`` is an offloaded result's marker, else None."""
    if isinstance(value, dict) and len(value) == 1 and OFFLOADED_KEY in value:
        return OffloadedResult.model_validate(value[OFFLOADED_KEY])
    return None


def has_deferred(value: Any) -> bool:
    """Whether ``value`` (resolved parameters, a run's outputs) holds a deferred reference or an
    offloaded result (a foreach item's, inside its task's lists)."""
    if isinstance(value, dict):
        if len(value) == 1 and (
            DEFERRED_KEY in value or DEFERRED_TEXT_KEY in value or OFFLOADED_KEY in value
        ):
            return True
        return any(has_deferred(v) for v in value.values())
    if isinstance(value, list):
        return any(has_deferred(v) for v in value)
    return False
