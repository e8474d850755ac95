"""The embedded LLM server's options and their defaults, apart from the server itself so that
``gleitzeit llm serve --help`` shows them without importing the server (httpx, the backend)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "DEFAULT_CTX_PER_SLOT",
    "DEFAULT_HOST",
    "DEFAULT_PARALLEL",
    "DEFAULT_PORT",
    "DEFAULT_THREADS",
    "ServeOptions",
]

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 11434  # Ollama's port, so OLLAMA_HOST's default finds us
DEFAULT_THREADS = 2
DEFAULT_PARALLEL = 4
DEFAULT_CTX_PER_SLOT = 2048


def _models_dir() -> Path:
    from gleitzeit.config import get_settings

    return get_settings().data_dir / "models"


@dataclass
class ServeOptions:
    """Everything ``run_server`` needs; the defaults suit a 2-core machine."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    parallel: int = DEFAULT_PARALLEL
    ctx_size: int = DEFAULT_CTX_PER_SLOT
    threads: int = DEFAULT_THREADS
    request_log: Path | None = None
    access_log: bool = False
    verbosity: int = 1
    cache_dir: Path = field(default_factory=_models_dir)
