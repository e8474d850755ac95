"""Check a pipeline's ``mcp/tool.NAME`` tasks against the tools its servers offer, before it runs.

Bounded: every server is asked once, all at the same time, and the whole check ends after
``timeout`` seconds. A server that does not answer in time (or does not start) is skipped with a
note: the names are then checked when the task runs. A tool that no answering server offers is a
problem naming the task, its line and the closest tool that exists.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import McpServerError, Problem
from gleitzeit.dsl.methods import mcp_tool_name
from gleitzeit.dsl.params.mcp import MCP_SERVERS_KEY
from gleitzeit.dsl.references import resolve
from gleitzeit.dsl.suggest import did_you_mean
from gleitzeit.mcp_tools.servers import candidates_for, configured_servers, parse_servers

if TYPE_CHECKING:
    from gleitzeit.config import Settings

__all__ = ["DEFAULT_CHECK_TIMEOUT", "ToolCheck", "check_tools"]

# The whole check's budget: validate stays quick when a server is slow or gone.
DEFAULT_CHECK_TIMEOUT = 15.0


@dataclass
class ToolCheck:
    problems: list[Problem] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def check_tools(
    spec: WorkflowSpec, settings: Settings, timeout: float = DEFAULT_CHECK_TIMEOUT
) -> ToolCheck:
    """Problems with the spec's tool names (and notes on what could not be checked)."""
    out = ToolCheck()
    tasks = [t for t in spec.tasks if mcp_tool_name(t.method)]
    if not tasks:
        return out
    # Imported here: the MCP SDK (and what it imports) is a large part of a short command's start.
    from gleitzeit.mcp_tools.client import list_tools

    # As written in the spec, ${VAR} is escaped ($${VAR}); resolving with no results unescapes it.
    pipeline = parse_servers(resolve(tasks[0].parameters.get(MCP_SERVERS_KEY) or [], {}, {}), "mcp")
    servers = configured_servers(settings, pipeline)
    wanted = {s.name: s for t in tasks for s, _ in candidates_for(mcp_tool_name(t.method) or "", servers)}
    names = sorted(wanted)
    jobs = [asyncio.ensure_future(list_tools(wanted[n], start_timeout=timeout)) for n in names]
    if jobs:
        await asyncio.wait(jobs, timeout=timeout)
    offered: dict[str, set[str]] = {}
    for name, job in zip(names, jobs, strict=True):
        if not job.done():
            job.cancel()
            out.notes.append(
                f"MCP server '{name}' did not answer within {timeout:g} s: its tools were not checked"
            )
        elif isinstance(job.exception(), McpServerError):
            out.notes.append(f"{job.exception()}: its tools were not checked")
        elif job.exception() is not None:
            out.notes.append(f"MCP server '{name}': {job.exception()}: its tools were not checked")
        else:
            offered[name] = {t.name for t in job.result()}
    await asyncio.gather(*jobs, return_exceptions=True)  # the cancelled ones end their servers
    for t in tasks:
        tool = mcp_tool_name(t.method) or ""
        candidates = candidates_for(tool, servers)
        where = {"file": spec.source_file, "line": t.line, "task": t.id, "key": "method"}
        if not candidates:
            out.problems.append(
                Problem(
                    f"no MCP server is configured for tool '{tool}'",
                    hint="add the server under 'mcp: {servers: [...]}' in the pipeline, "
                    "~/.gleitzeit/config.yaml or GLEITZEIT_MCP_SERVERS",
                    code="unknown-tool",
                    **where,  # type: ignore[arg-type]
                )
            )
            continue
        if any(s.name not in offered for s, _ in candidates):
            continue  # a server that did not answer may have it
        if any(own in offered[s.name] for s, own in candidates):
            continue
        existing = sorted({s.tool_prefix + n for s, _ in candidates for n in offered[s.name]})
        out.problems.append(
            Problem(
                f"unknown MCP tool '{tool}'",
                hint=did_you_mean(
                    tool, existing, otherwise=f"tools offered: {', '.join(existing[:20]) or 'none'}"
                ),
                code="unknown-tool",
                **where,  # type: ignore[arg-type]
            )
        )
    return out
