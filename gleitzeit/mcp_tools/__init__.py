"""MCP tool calls through the official ``mcp`` SDK: which servers (``servers``), talking to them
(``client``), and checking a pipeline's tool names before it runs (``check``)."""

from __future__ import annotations

__all__: list[str] = []
