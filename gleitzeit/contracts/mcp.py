"""MCP server configuration, in the original Gleitzeit's format (``mcp.servers`` entries).

The same entries are accepted in ``~/.gleitzeit/config.yaml``, in the worker's settings
(``GLEITZEIT_MCP_SERVERS``, a JSON list) and in a pipeline's top-level ``mcp:`` block; the loader hands
a pipeline's entries to its MCP tasks, so they cross Temporal inside the task's parameters.
"""

from __future__ import annotations

import os
import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

__all__ = ["McpServerConfig", "expand_env"]

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def expand_env(value: Any) -> Any:
    """``${VAR}`` replaced from the environment in every string of ``value`` (unset: left as written)."""
    if isinstance(value, str):
        return _VAR.sub(lambda m: os.environ.get(m.group(1), m.group(0)), value)
    if isinstance(value, list):
        return [expand_env(v) for v in value]
    if isinstance(value, dict):
        return {k: expand_env(v) for k, v in value.items()}
    return value


class McpServerConfig(BaseModel):
    """One MCP server. ``command`` is a list (``["npx", "-y", "pkg"]``) or one string; ``args`` are
    appended. ``tool_prefix`` (``"fs."``) names its tools ``fs.read`` etc. in ``mcp/tool.NAME``."""

    # The original's other keys (max_retries, health_check_interval, advertise_tools...) are accepted
    # and ignored: Temporal retries the calls and a server lives for one call here.
    # defer_build: built when a pipeline first names a server, not by every `gleitzeit validate`.
    model_config = ConfigDict(extra="ignore", frozen=True, defer_build=True)

    name: str
    connection_type: Literal["stdio", "http", "websocket"] = "stdio"
    command: list[str] = Field(default_factory=list)
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    working_dir: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    auth_token: str | None = None
    tool_prefix: str = ""
    auto_start: bool = True
    timeout: float | None = None  # seconds for one request, as the original's 'timeout'

    @field_validator("command", mode="before")
    @classmethod
    def _split_command(cls, v: Any) -> Any:
        return v.split() if isinstance(v, str) else v

    @field_validator("env", mode="before")
    @classmethod
    def _env_text(cls, v: Any) -> Any:
        return {str(k): str(x) for k, x in v.items()} if isinstance(v, dict) else v

    def expanded(self) -> McpServerConfig:
        """A copy with ``${VAR}`` expanded from the environment (done where the server starts)."""
        return McpServerConfig.model_validate(expand_env(self.model_dump()))

    def describe(self) -> str:
        """How the server is reached, for error messages: its command line or its URL."""
        if self.connection_type == "stdio":
            return " ".join([*self.command, *self.args]) or "(no command)"
        return self.url or "(no url)"
