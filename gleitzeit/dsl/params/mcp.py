"""Parameters of the MCP methods: ``mcp/tool.NAME`` (the tool's arguments) and the two listings.

A tool's parameters are its arguments, whatever the tool takes, so ``McpToolParams`` accepts any
key (the server checks them against the tool's schema when it is called; ``gleitzeit validate``
checks the tool's name when the servers answer). As in the original, a single ``arguments`` mapping
may hold them instead. ``_mcp_servers`` is set by the loader: the pipeline's own ``mcp:`` servers,
carried to the worker with the task.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import ConfigDict

from gleitzeit.dsl.params.base import MethodParams

__all__ = ["MCP_SERVERS_KEY", "McpListParams", "McpToolParams", "tool_arguments"]

MCP_SERVERS_KEY = "_mcp_servers"


class McpToolParams(MethodParams):
    """Any keys: they are the tool's arguments."""

    model_config = ConfigDict(extra="allow", strict=True, frozen=True)
    method: ClassVar[str] = "mcp/tool"

    @classmethod
    def accepted(cls) -> tuple[str, ...]:
        return ("<the tool's arguments>", "arguments")


class McpListParams(MethodParams):
    """``mcp/tools.list`` and ``mcp/servers.list``: an optional ``server`` name narrows the list."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)
    method: ClassVar[str] = "mcp/tools.list"

    server: str | None = None


def tool_arguments(params: dict[str, Any]) -> dict[str, Any]:
    """The arguments for the tool: ``arguments`` when it is the only key given, else every key
    (the loader's ``_mcp_servers`` left out)."""
    args = {k: v for k, v in params.items() if k != MCP_SERVERS_KEY}
    if set(args) == {"arguments"} and isinstance(args["arguments"], dict):
        return dict(args["arguments"])
    return args
