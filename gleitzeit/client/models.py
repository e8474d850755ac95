"""The models an Ollama-API server has, with sizes and capabilities (``gleitzeit llm models``).

Asked through the official ``ollama`` client: ``/api/tags`` lists the models with their sizes,
``/api/show`` adds each one's capabilities (``completion``, ``embedding``, ``vision`` ...), which
the tags list does not carry.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import ollama
from pydantic import BaseModel, Field

from gleitzeit.core.errors import LLMUnavailableError

__all__ = ["ModelInfo", "describe_models"]


class ModelInfo(BaseModel):
    """One model of the LLM server."""

    name: str
    size: int | None = None  # bytes on disk, as /api/tags reports
    family: str | None = None
    parameter_size: str | None = None  # e.g. "135M"
    quantization_level: str | None = None  # e.g. "Q4_1"
    capabilities: list[str] = Field(default_factory=list)  # empty when /api/show did not answer
    modified_at: str | None = None


async def describe_models(host: str, timeout: float) -> list[ModelInfo]:
    """Every model at ``host`` with its size and capabilities; ``LLMUnavailableError`` when the
    server does not answer."""
    try:
        async with ollama.AsyncClient(
            host=host, timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0))
        ) as client:
            listing = await client.list()
            # A model /api/show fails for is still listed, without capabilities.
            shown = await asyncio.gather(
                *(client.show(str(m.model)) for m in listing.models), return_exceptions=True
            )
    except (ollama.ResponseError, httpx.HTTPError, ConnectionError) as exc:
        raise LLMUnavailableError(f"cannot list the models of the LLM server at {host}: {exc}") from None
    return [_info(m, s) for m, s in zip(listing.models, shown, strict=True)]


def _info(model: Any, shown: Any) -> ModelInfo:
    details = model.details
    capabilities = [] if isinstance(shown, BaseException) else list(shown.capabilities or [])
    return ModelInfo(
        name=str(model.model),
        size=model.size,
        family=getattr(details, "family", None),
        parameter_size=getattr(details, "parameter_size", None),
        quantization_level=getattr(details, "quantization_level", None),
        capabilities=[str(c) for c in capabilities],
        modified_at=model.modified_at.isoformat() if model.modified_at else None,
    )
