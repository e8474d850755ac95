"""Model names on the worker: ``settings.model_aliases`` applied, and the message for a missing model.

A pipeline written for ``llama3.2`` runs on a server that only has ``smollm2:135m`` when the worker
is told ``GLEITZEIT_MODEL_ALIASES="llama3.2=smollm2:135m"``; a missing model's error names the
models the server has and that alias.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["aliased", "missing_model_message"]


def aliased(name: str, aliases: Mapping[str, str]) -> str:
    """``name`` through ``aliases``; ``llama3.2`` and ``llama3.2:latest`` match an alias of either
    spelling, as Ollama resolves them."""
    if not aliases or name in aliases:
        return aliases.get(name, name)
    bare = name.removesuffix(":latest")
    return aliases.get(bare) or aliases.get(bare + ":latest") or name


def missing_model_message(
    model: str, host: str | None, available: list[str] | None, text: str = "", *, asked: str | None = None
) -> str:
    """The error text: the server, the models it has (``available``; None when it could not be
    asked) and the alias that maps ``model`` onto one of them. ``asked`` is the task's name when
    ``model`` is its alias: then the alias is what to fix."""
    where = f" at {host}" if host else ""
    if available:
        # "all-minilm" and "all-minilm:latest" name the same model; the short name reads better.
        available = [n.removesuffix(":latest") for n in available]
    if asked and asked != model:
        has = f"; it has: {', '.join(available)}" if available else ""
        return (
            f"model '{model}' (the alias of '{asked}' in GLEITZEIT_MODEL_ALIASES) not found on the "
            f"LLM server{where}{has}; fix the alias or pull the model"
        )
    if available is None:
        return (
            f"model '{model}' not found on the LLM server{where}: {text} "
            "(pull it, or use one that `gleitzeit llm models` lists)"
        )
    if not available:
        return f"model '{model}' not found on the LLM server{where}, which has no models; pull one"
    return (
        f"model '{model}' not found on the LLM server{where}; it has: {', '.join(available)}; "
        f'pull it, or alias it: GLEITZEIT_MODEL_ALIASES="{model}={_alias_target(model, available)}" '
        "(in the worker's environment)"
    )


def _alias_target(model: str, available: list[str]) -> str:
    """The model to suggest as an alias target: an embedding model for an embedding name, else a
    model that is not one (a chat request to an embedding model fails)."""
    embedding = [n for n in available if _looks_like_embedding(n)]
    other = [n for n in available if not _looks_like_embedding(n)]
    preferred = embedding if _looks_like_embedding(model) else other
    return (preferred or available)[0]


def _looks_like_embedding(name: str) -> bool:
    return any(word in name.lower() for word in ("embed", "minilm", "bge", "e5-"))
