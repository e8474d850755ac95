"""Which MCP servers a task may use, and which one offers a tool.

Servers come from three places, later ones replacing earlier ones of the same name: the original
Gleitzeit's config file (``~/.gleitzeit/config.yaml``, its ``mcp.servers`` list), the worker's
settings (``GLEITZEIT_MCP_SERVERS``), and the pipeline's own top-level ``mcp:`` block.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pydantic
import yaml

from gleitzeit.contracts.mcp import McpServerConfig
from gleitzeit.core.errors import ConfigurationError

if TYPE_CHECKING:
    from gleitzeit.config import Settings

__all__ = ["candidates_for", "configured_servers", "parse_servers", "servers_from_file"]

log = logging.getLogger("gleitzeit.mcp")


def parse_servers(raw: Any, where: str) -> list[McpServerConfig]:
    """The ``servers`` entries of an ``mcp:`` block (or the list itself); ConfigurationError if bad."""
    if isinstance(raw, Mapping):
        raw = raw.get("servers", [])
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise ConfigurationError(f"{where}: 'mcp.servers' must be a list of servers")
    servers: list[McpServerConfig] = []
    for i, entry in enumerate(raw):
        try:
            servers.append(McpServerConfig.model_validate(entry))
        except pydantic.ValidationError as exc:
            err = exc.errors()[0]
            key = ".".join(str(x) for x in err["loc"])
            raise ConfigurationError(f"{where}: mcp.servers[{i}].{key}: {err['msg']}") from None
    return servers


def servers_from_file(path: Path) -> list[McpServerConfig]:
    """The ``mcp.servers`` of the original's config file; [] when the file does not exist."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.warning("cannot read %s: %s", path, exc)
        return []
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"{path}: not valid YAML ({exc})") from None
    if not isinstance(data, Mapping):
        return []
    return parse_servers(data.get("mcp") or {}, str(path))


def configured_servers(settings: Settings, pipeline: Iterable[McpServerConfig] = ()) -> list[McpServerConfig]:
    """Every server a task may use: config file, then settings, then the pipeline (by name, later wins)."""
    by_name: dict[str, McpServerConfig] = {}
    for server in (
        *servers_from_file(settings.mcp_config_file),
        *parse_servers(settings.mcp_servers, "GLEITZEIT_MCP_SERVERS"),
        *pipeline,
    ):
        by_name[server.name] = server
    return list(by_name.values())


def candidates_for(tool: str, servers: Iterable[McpServerConfig]) -> list[tuple[McpServerConfig, str]]:
    """(server, the server's own tool name) that may offer ``tool`` as written in ``mcp/tool.NAME``:
    servers whose ``tool_prefix`` starts the name first (longest prefix first), then those without one."""
    prefixed = sorted(
        (
            (s, tool[len(s.tool_prefix) :])
            for s in servers
            if s.tool_prefix and tool.startswith(s.tool_prefix)
        ),
        key=lambda pair: -len(pair[0].tool_prefix),
    )
    plain = [(s, tool) for s in servers if not s.tool_prefix]
    return [(s, name) for s, name in prefixed if name] + plain
