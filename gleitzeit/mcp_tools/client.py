"""Talking to MCP servers with the official ``mcp`` SDK: open a session, list tools, call one.

A stdio server is started for each call and ended when the call ends (``open_session`` leaves no
process behind, also when the call is cancelled by its timeout). Why not a pool per worker: a tool
call is one activity attempt, so the server's lifetime is the attempt's, nothing outlives a
cancelled or crashed attempt, and servers need no health checks or restarts of our own; the price
is the server's start (~0.3-1 s for the SDK's Python servers and npx servers on this machine), small
next to what a tool does. HTTP servers (``connection_type: http``, streamable HTTP) are connected to.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import mcp_types
from mcp import ClientSession, MCPError, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client

from gleitzeit.contracts.mcp import McpServerConfig
from gleitzeit.contracts.tasks import McpResult
from gleitzeit.core.errors import McpServerError

__all__ = [
    "DEFAULT_START_TIMEOUT",
    "McpToolFailed",
    "call_tool",
    "list_tools",
    "open_session",
    "to_result",
]

# How long a server may take from start to a finished handshake (npx may fetch its package first).
DEFAULT_START_TIMEOUT = 30.0


class McpToolFailed(Exception):
    """The tool answered with ``isError``: its own failure (the message is the tool's text)."""


def _stdio_parameters(server: McpServerConfig) -> StdioServerParameters:
    if not server.command:
        raise McpServerError(f"MCP server '{server.name}' has no 'command' (connection_type stdio)")
    program, *rest = server.command
    if shutil.which(program, path=(server.env.get("PATH") or os.environ.get("PATH"))) is None:
        raise McpServerError(
            f"MCP server '{server.name}' cannot start: command '{program}' not found "
            f"(command: {server.describe()}); install it or fix 'command' in its mcp.servers entry"
        )
    return StdioServerParameters(
        command=program, args=[*rest, *server.args], env=server.env or None, cwd=server.working_dir
    )


@asynccontextmanager
async def open_session(
    server: McpServerConfig, start_timeout: float = DEFAULT_START_TIMEOUT
) -> AsyncIterator[ClientSession]:
    """An initialised session with ``server`` (``${VAR}`` expanded); McpServerError if it does not start."""
    server = server.expanded()
    if server.connection_type == "stdio":
        params = _stdio_parameters(server)
        if server.working_dir and not os.path.isdir(server.working_dir):
            raise McpServerError(
                f"MCP server '{server.name}': working_dir '{server.working_dir}' does not exist"
            )
        transport = stdio_client(params, errlog=_errlog())
    elif server.connection_type == "http":
        if not server.url:
            raise McpServerError(f"MCP server '{server.name}' has no 'url' (connection_type http)")
        headers = dict(server.headers)
        if server.auth_token:
            headers.setdefault("Authorization", f"Bearer {server.auth_token}")
        transport = streamable_http_client(server.url, http_client=httpx2.AsyncClient(headers=headers))
    else:
        raise McpServerError(
            f"MCP server '{server.name}': connection_type '{server.connection_type}' is not supported "
            "here; use stdio or http (streamable HTTP)"
        )
    try:
        async with transport as (read, write), ClientSession(read, write) as session:
            try:
                await asyncio.wait_for(session.initialize(), start_timeout)
            except TimeoutError:
                raise McpServerError(
                    f"MCP server '{server.name}' did not answer the handshake within {start_timeout:g} s "
                    f"(command: {server.describe()})"
                ) from None
            yield session
    except McpServerError:
        raise
    except (OSError, ConnectionError, ExceptionGroup, RuntimeError) as exc:
        raise McpServerError(
            f"MCP server '{server.name}' did not start or closed the connection "
            f"(command: {server.describe()}): {_first_message(exc)}"
        ) from exc
    except Exception as exc:
        if type(exc).__module__.startswith("mcp"):
            raise McpServerError(
                f"MCP server '{server.name}' failed (command: {server.describe()}): {exc}"
            ) from exc
        raise


def _errlog() -> Any:
    # The server's stderr goes to ours (the worker's log); /dev/null would hide why it failed.
    import sys

    return sys.stderr


def _first_message(exc: BaseException) -> str:
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc) or type(exc).__name__


async def list_tools(
    server: McpServerConfig, start_timeout: float = DEFAULT_START_TIMEOUT
) -> list[mcp_types.Tool]:
    """Every tool ``server`` offers (its own names, without ``tool_prefix``)."""
    async with open_session(server, start_timeout) as session:
        tools: list[mcp_types.Tool] = []
        cursor: str | None = None
        while True:
            params = mcp_types.PaginatedRequestParams(cursor=cursor) if cursor else None
            page = await session.list_tools(params=params)
            tools.extend(page.tools)
            cursor = page.next_cursor
            if not cursor:
                return tools


def to_result(tool: str, server: str, answer: mcp_types.CallToolResult) -> McpResult:
    """The original's result shape from the SDK's answer (see McpResult)."""
    texts = [block.text for block in answer.content if isinstance(block, mcp_types.TextContent)]
    text = "\n".join(texts)
    structured = answer.structured_content
    if structured is not None and set(structured) == {"result"}:
        value: Any = structured["result"]
    elif structured is not None:
        value = structured
    else:
        value = text
    return McpResult(response=text, result=value, tool=tool, server=server, structured=structured)


async def call_tool(
    server: McpServerConfig,
    tool: str,
    arguments: dict[str, Any],
    *,
    name_as_written: str | None = None,
    start_timeout: float = DEFAULT_START_TIMEOUT,
) -> McpResult:
    """Call ``tool`` (the server's own name) with ``arguments``; McpToolFailed when the tool says it failed."""
    refused: str | None = None
    async with open_session(server, start_timeout) as session:
        try:
            answer = await session.call_tool(tool, arguments)
        except MCPError as exc:  # e.g. an unknown tool or bad arguments, refused by the server
            refused = str(exc) or type(exc).__name__
    if refused is not None:
        raise McpToolFailed(refused)
    if answer.is_error:
        texts = [b.text for b in answer.content if isinstance(b, mcp_types.TextContent)]
        raise McpToolFailed("\n".join(texts) or f"tool '{tool}' reported an error")
    return to_result(name_as_written or tool, server.name, answer)
