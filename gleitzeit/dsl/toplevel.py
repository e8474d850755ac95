"""The pipeline's top-level blocks that configure its tasks rather than being tasks: ``mcp:`` (MCP
servers its mcp/* tasks use) and ``providers:`` (the LLM provider of llm/* tasks that name none, and
the original's ``ollama_pool`` of several Ollama hosts)."""

from __future__ import annotations

from typing import Any

import pydantic

from gleitzeit.core.errors import ConfigurationError
from gleitzeit.core.ollama_pool import POOL_KEY, STRATEGIES, OllamaPoolConfig
from gleitzeit.dsl.params.llm import PROVIDERS
from gleitzeit.dsl.report import Reporter
from gleitzeit.dsl.suggest import did_you_mean
from gleitzeit.mcp_tools.servers import parse_servers

__all__ = ["apply_pool", "apply_provider", "mcp_servers_block", "pool_block", "providers_block"]


def _literal(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("${", "$${")
    if isinstance(value, list):
        return [_literal(v) for v in value]
    if isinstance(value, dict):
        return {k: _literal(v) for k, v in value.items()}
    return value


def mcp_servers_block(data: dict[str, Any], r: Reporter) -> list[dict[str, Any]]:
    """The pipeline's ``mcp: {servers: [...]}`` entries, checked; they travel with its MCP tasks."""
    raw = data.get("mcp")
    if raw is None:
        return []
    try:
        servers = parse_servers(raw, "mcp")
    except ConfigurationError as exc:
        r.add(
            "invalid-value",
            str(exc),
            ("mcp",),
            key="mcp",
            hint="each server needs a name and, for stdio, a command (see README: MCP tool tasks)",
        )
        return []
    # ``${VAR}`` in a server entry is an environment variable, expanded where the server starts:
    # written as a literal (``$${``) so the workflow does not take it for a reference to a task.
    return [_literal(s.model_dump(exclude_defaults=True)) for s in servers]


_PROVIDER_KEYS = ("base_url", "api_key_env")


def providers_block(data: dict[str, Any], r: Reporter) -> tuple[str | None, dict[str, str]]:
    """The pipeline's ``providers: {default: openai, openai: {base_url, api_key_env}}`` block: the
    provider of llm/* tasks that name none, and the openai settings they inherit. The original's list
    form carries neither and stays in the metadata only (``ollama_pool``: see ``pool_block``)."""
    raw = data.get("providers")
    if not isinstance(raw, dict):
        return None, {}
    default = raw.get("default")
    if default is not None and default not in PROVIDERS:
        r.add(
            "invalid-value",
            f"unknown provider {default!r}",
            ("providers", "default"),
            key="providers.default",
            hint=did_you_mean(str(default), PROVIDERS, otherwise="use ollama or openai"),
        )
        default = None
    entry = raw.get("openai")
    if entry is None:
        return default, {}
    if not isinstance(entry, dict):
        r.add(
            "wrong-type",
            "'providers.openai' must be a mapping",
            ("providers", "openai"),
            key="providers.openai",
            hint="write 'openai: {base_url: http://host:8080/v1, api_key_env: MY_KEY}'",
        )
        return default, {}
    settings: dict[str, str] = {}
    for k, v in entry.items():
        if k not in _PROVIDER_KEYS or not isinstance(v, str):
            r.add(
                "invalid-value" if k in _PROVIDER_KEYS else "unknown-key",
                f"'providers.openai.{k}' must be a string" if k in _PROVIDER_KEYS else f"unknown key '{k}'",
                ("providers", "openai", str(k)),
                key=f"providers.openai.{k}",
                hint=did_you_mean(str(k), _PROVIDER_KEYS, otherwise="use base_url and api_key_env"),
            )
            continue
        settings[k] = v
    return default, settings


def apply_provider(params: dict[str, Any], default: str | None, openai: dict[str, str]) -> None:
    """An llm/* task's parameters with the pipeline's provider settings where it sets none."""
    if default is not None:
        params.setdefault("provider", default)
    if params.get("provider") == "openai":
        for k, v in openai.items():
            params.setdefault(k, v)


_POOL_HINTS = {
    "url": "give each instance a url like http://localhost:11434",
    "strategy": "use one of " + ", ".join(STRATEGIES),
    "max_concurrent": "write max_concurrent as a whole number of at least 1",
    "instances": "list the hosts under 'instances:', each with an id and a url",
}


def pool_block(data: dict[str, Any], r: Reporter) -> dict[str, Any] | None:
    """The pipeline's ``providers: {ollama_pool: ...}`` block, checked; it travels with its llm/* tasks
    (under ``_ollama_pool``) and routes them over its hosts."""
    raw = data.get("providers")
    block = raw.get("ollama_pool") if isinstance(raw, dict) else None
    if block is None:
        return None
    try:
        OllamaPoolConfig.model_validate(block)
    except pydantic.ValidationError as exc:
        for err in exc.errors()[:5]:
            loc = tuple(err["loc"])
            last = next((str(x) for x in reversed(loc) if isinstance(x, str)), "instances")
            dotted = ".".join(str(x) for x in ("providers", "ollama_pool", *loc))
            r.add(
                "invalid-value",
                f"{err['msg']}" if loc else f"'providers.ollama_pool': {err['msg']}",
                ("providers", "ollama_pool", *loc),
                key=dotted,
                hint=_POOL_HINTS.get(last, "see README: Several Ollama hosts"),
            )
        return None
    return dict(_literal(block))


def apply_pool(params: dict[str, Any], pool: dict[str, Any] | None) -> None:
    """An llm/* task's parameters with the pipeline's pool (tasks that go elsewhere ignore it)."""
    if pool is not None:
        params[POOL_KEY] = pool
