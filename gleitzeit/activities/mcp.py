"""The MCP activities: ``mcp.tool`` calls one tool, ``mcp.tools_list`` / ``mcp.servers_list`` list them.

The servers a task may use are the worker's (config file and settings) plus the pipeline's own
``mcp:`` block, which the loader put into the task's parameters (gleitzeit.dsl.params.mcp). Each
call starts its stdio server and ends it with the attempt (gleitzeit.mcp_tools.client says why).
Temporal owns retries and the timeout: a server that does not start and a tool that says it
failed are non-retryable (another attempt gives the same answer); a server that dropped the
connection mid-call is retried.
"""

from __future__ import annotations

from typing import Any

from temporalio import activity

from gleitzeit.activities.common import heartbeating, non_retryable, retryable
from gleitzeit.config import Settings
from gleitzeit.contracts.mcp import McpServerConfig
from gleitzeit.contracts.tasks import McpResult, TaskInput
from gleitzeit.core.errors import ConfigurationError, McpServerError
from gleitzeit.dsl.methods import mcp_tool_name
from gleitzeit.dsl.params import MCP_SERVERS_KEY, tool_arguments
from gleitzeit.dsl.suggest import did_you_mean
from gleitzeit.mcp_tools.client import McpToolFailed, call_tool, list_tools
from gleitzeit.mcp_tools.servers import candidates_for, configured_servers, parse_servers

__all__ = ["McpActivities"]


class McpActivities:
    """The MCP activities, bound to the worker's settings."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def all(self) -> list[Any]:
        return [self.tool, self.tools_list, self.servers_list]

    def _servers(self, inp: TaskInput) -> list[McpServerConfig]:
        try:
            pipeline = parse_servers(inp.parameters.get(MCP_SERVERS_KEY) or [], "the pipeline's mcp block")
            return configured_servers(self._settings, pipeline)
        except ConfigurationError as exc:
            raise non_retryable(str(exc), "McpConfigInvalid") from exc

    @activity.defn(name="mcp.tool")
    async def tool(self, inp: TaskInput) -> McpResult:
        """Call the tool of one ``mcp/tool.NAME`` task attempt."""
        tool = mcp_tool_name(inp.method) or ""
        servers = self._servers(inp)
        candidates = candidates_for(tool, servers)
        if not candidates:
            raise non_retryable(
                f"task '{inp.task_id}': no MCP server is configured for tool '{tool}' "
                f"(servers: {', '.join(s.name for s in servers) or 'none'}); add one under mcp.servers "
                "in ~/.gleitzeit/config.yaml, GLEITZEIT_MCP_SERVERS or the pipeline's 'mcp:' block",
                "McpToolNotFound",
            )
        arguments = tool_arguments(dict(inp.parameters))
        server, name = candidates[0]
        if len(candidates) > 1:  # several servers may have it: ask them, the first that has it wins
            server, name = await self._which_server(inp, tool, candidates)
        try:
            async with heartbeating():
                return await call_tool(server, name, arguments, name_as_written=tool)
        except McpToolFailed as exc:
            raise non_retryable(
                f"task '{inp.task_id}': MCP tool '{tool}' (server '{server.name}') failed: {exc}",
                "McpToolError",
                tool=tool,
                server=server.name,
            ) from exc
        except McpServerError as exc:
            raise non_retryable(f"task '{inp.task_id}': {exc}", "McpServerError", server=server.name) from exc
        except (ConnectionError, OSError) as exc:
            raise retryable(
                f"task '{inp.task_id}': MCP server '{server.name}' dropped the call to '{tool}': {exc}",
                "McpServerUnavailable",
            ) from exc

    async def _which_server(
        self, inp: TaskInput, tool: str, candidates: list[tuple[McpServerConfig, str]]
    ) -> tuple[McpServerConfig, str]:
        offered: list[str] = []
        for server, name in candidates:
            try:
                names = [t.name for t in await list_tools(server)]
            except McpServerError:
                continue
            if name in names:
                return server, name
            offered.extend(server.tool_prefix + n for n in names)
        raise non_retryable(
            f"task '{inp.task_id}': no MCP server offers tool '{tool}' "
            f"({did_you_mean(tool, offered, otherwise='tools offered: ' + ', '.join(sorted(offered)[:20]))})",
            "McpToolNotFound",
        )

    @activity.defn(name="mcp.tools_list")
    async def tools_list(self, inp: TaskInput) -> dict[str, Any]:
        """Every tool of every configured server (``server`` narrows), as the original listed them."""
        only = inp.parameters.get("server")
        tools: list[dict[str, Any]] = []
        errors: dict[str, str] = {}
        servers = [s for s in self._servers(inp) if only in (None, s.name)]
        async with heartbeating():
            for server in servers:
                try:
                    found = await list_tools(server)
                except McpServerError as exc:
                    errors[server.name] = str(exc)
                    continue
                tools.extend(
                    {
                        "name": server.tool_prefix + t.name,
                        "description": t.description or "",
                        "inputSchema": t.input_schema,
                        "server": server.name,
                    }
                    for t in found
                )
        return {"tools": tools, "count": len(tools), "servers": len(servers), "errors": errors}

    @activity.defn(name="mcp.servers_list")
    async def servers_list(self, inp: TaskInput) -> dict[str, Any]:
        """The configured servers (``server`` narrows), with how each is reached."""
        only = inp.parameters.get("server")
        servers = [
            {
                "name": s.name,
                "connection_type": s.connection_type,
                "command": s.describe(),
                "tool_prefix": s.tool_prefix,
                "auto_start": s.auto_start,
            }
            for s in self._servers(inp)
            if only in (None, s.name)
        ]
        return {"servers": servers, "count": len(servers)}
