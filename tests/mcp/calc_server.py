"""An MCP server of ours for the tests, written with the SDK's MCPServer (FastMCP before mcp 2).

The tools the original Gleitzeit's ``simple_mcp_workflow.yaml`` and ``mcp_workflow.yaml`` call (echo,
add, multiply, concat), plus ``fail`` (a tool error) and ``hang`` (never answers). Run as
``python calc_server.py`` (stdio).
"""

from __future__ import annotations

import asyncio

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server = MCPServer("gleitzeit-test-calc", log_level="WARNING")


@server.tool()
def echo(message: str) -> str:
    """Return the message."""
    return message


@server.tool()
def add(a: int | float, b: int | float) -> int | float:
    """a + b"""
    return a + b


@server.tool()
def multiply(a: int | float, b: int | float) -> int | float:
    """a * b"""
    return a * b


@server.tool()
def concat(strings: list[str], separator: str = " ") -> str:
    """The strings joined by the separator."""
    return separator.join(strings)


@server.tool()
def fail(reason: str = "it failed on purpose") -> str:
    """Always fails with ``reason``."""
    raise ToolError(reason)


@server.tool()
async def hang() -> str:
    """Never answers."""
    await asyncio.sleep(3600)
    return "unreachable"


if __name__ == "__main__":
    server.run()
