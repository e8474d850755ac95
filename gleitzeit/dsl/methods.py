"""The registry of task methods: names, aliases, the activity that runs each, and its defaults.

The workflow needs the activity name, result fields and the default timeouts and retries; the
parameter schemas each method accepts live in ``gleitzeit.dsl.params`` (one pydantic model per method).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "MCP_TOOL_PREFIX",
    "METHODS",
    "WAIT_FAMILIES",
    "MethodInfo",
    "canonical_method",
    "is_method",
    "mcp_tool_name",
    "method_info",
]

# ``mcp/tool.NAME``: one method per MCP tool (the original's spelling). They share one entry,
# ``mcp/tool``; a task keeps the full name, so the activity knows which tool to call.
MCP_TOOL_PREFIX = "mcp/tool."
# Method families that wait on the workflow side instead of running an activity.
WAIT_FAMILIES = ("time", "human")


@dataclass(frozen=True)
class MethodInfo:
    name: str  # canonical, e.g. "llm/chat"
    aliases: tuple[str, ...]
    family: str  # "llm" | "python" | "mcp" | "time" | "human"
    activity: str  # activity name registered on the worker ("" for a wait on the workflow side)
    result_fields: tuple[str, ...]  # first-level keys of the task's result
    primary_field: str  # what ${task} and ${task.result} mean when the result has no 'result' key
    default_timeout: float  # seconds for one attempt when the task gives none
    heartbeat_timeout: float  # a dead worker is noticed after this long
    default_max_attempts: int


_LLM_TEXT_FIELDS = (
    "response",
    "model",
    "tokens_used",
    "prompt_tokens",
    "done_reason",
    "total_duration",
    "load_duration",
    "prompt_eval_duration",
    "eval_duration",
    "parsed",
    "result",
    # With several Ollama hosts: the instance that answered (docs/ollama_pool.md).
    "host",
    "host_url",
)

METHODS: dict[str, MethodInfo] = {
    m.name: m
    for m in (
        MethodInfo("llm/chat", ("chat",), "llm", "llm.chat", _LLM_TEXT_FIELDS, "response", 300.0, 20.0, 3),
        MethodInfo(
            "llm/generate",
            ("llm/complete", "generate", "complete"),
            "llm",
            "llm.generate",
            _LLM_TEXT_FIELDS,
            "response",
            300.0,
            20.0,
            3,
        ),
        MethodInfo(
            "llm/vision",
            ("vision",),
            "llm",
            "llm.vision",
            _LLM_TEXT_FIELDS + ("images_analyzed",),
            "response",
            300.0,
            20.0,
            3,
        ),
        MethodInfo(
            "llm/embed",
            ("llm/embeddings", "embed", "embeddings"),
            "llm",
            "llm.embed",
            (
                "embeddings",
                "embedding",
                "model",
                "prompt_tokens",
                "total_duration",
                "result",
                "host",
                "host_url",
            ),
            "embeddings",
            120.0,
            20.0,
            3,
        ),
        MethodInfo(
            "mcp/tool",
            (),
            "mcp",
            "mcp.tool",
            ("response", "result", "tool", "server", "success", "structured"),
            "result",
            60.0,
            15.0,
            3,
        ),
        MethodInfo(
            "mcp/tools.list",
            ("mcp/tools/list", "tools/list"),
            "mcp",
            "mcp.tools_list",
            ("tools", "count", "servers", "errors"),
            "tools",
            60.0,
            15.0,
            3,
        ),
        MethodInfo(
            "mcp/servers.list",
            ("mcp/servers", "servers", "servers.list"),
            "mcp",
            "mcp.servers_list",
            ("servers", "count"),
            "servers",
            60.0,
            15.0,
            3,
        ),
        MethodInfo(
            "python/execute",
            ("python",),
            "python",
            "python.execute",
            ("result", "output", "error", "exit_code", "executor", "duration", "stderr"),
            "result",
            60.0,
            15.0,
            3,
        ),
        # Waits on the workflow side (gleitzeit.workflows.waits): a durable timer or an update, no
        # activity, so no timeouts or retries of one (an approval's own timeout is a parameter).
        MethodInfo("time/sleep", (), "time", "", ("slept", "until"), "until", 0.0, 0.0, 1),
        MethodInfo("time/until", (), "time", "", ("slept", "until"), "until", 0.0, 0.0, 1),
        MethodInfo(
            "human/approval",
            (),
            "human",
            "",
            ("approved", "data", "by", "reason", "at", "timed_out"),
            "approved",
            0.0,
            0.0,
            1,
        ),
    )
}

_ALIASES: dict[str, str] = {alias: m.name for m in METHODS.values() for alias in (m.name, *m.aliases)}


def canonical_method(name: str, protocol: str | None = None) -> str | None:
    """The canonical method for a name as written (``llm/complete`` -> ``llm/generate``), or None.

    A bare method (``chat``) is qualified by ``protocol`` (``llm/v1``) the way the original accepted it.
    ``mcp/tool.NAME`` (or ``tool.NAME`` with ``protocol: mcp/v1``) stays as written.
    """
    if name.startswith("tool.") and protocol and protocol.split("/")[0] == "mcp":
        name = "mcp/" + name
    if mcp_tool_name(name):
        return name
    if name in _ALIASES and name != "mcp/tool":  # a tool call names its tool: mcp/tool.NAME
        if "/" not in name and protocol:
            qualified = f"{protocol.split('/')[0]}/{name}"
            return _ALIASES.get(qualified, _ALIASES[name])
        return _ALIASES[name]
    return None


def mcp_tool_name(method: str) -> str | None:
    """``NAME`` of ``mcp/tool.NAME``; None for every other method."""
    if method.startswith(MCP_TOOL_PREFIX) and len(method) > len(MCP_TOOL_PREFIX):
        return method[len(MCP_TOOL_PREFIX) :]
    return None


def method_info(name: str) -> MethodInfo:
    """The registry entry of a canonical method (every ``mcp/tool.NAME`` shares ``mcp/tool``'s)."""
    return METHODS["mcp/tool" if mcp_tool_name(name) else name]


def is_method(name: str | None) -> bool:
    """Whether ``name`` is a canonical method (an ``mcp/tool.NAME`` included)."""
    return name is not None and (name in METHODS or mcp_tool_name(name) is not None)
