"""`gleitzeit llm serve`: the embedded LLM server speaking Ollama's REST API."""

from __future__ import annotations

from pathlib import Path

import typer

from gleitzeit.cli.app import llm_app
from gleitzeit.llm_server.serving import DEFAULT_HOST, DEFAULT_PORT, ServeOptions

__all__ = ["serve"]

_DEFAULTS = ServeOptions.__dataclass_fields__


@llm_app.command("serve")
def serve(
    host: str = typer.Option(DEFAULT_HOST, "--host", help="address to listen on"),
    port: int = typer.Option(DEFAULT_PORT, "--port", help="port (Ollama's is 11434)"),
    parallel: int = typer.Option(
        _DEFAULTS["parallel"].default, "--parallel", help="requests generated at once (slots); more wait"
    ),
    ctx_size: int = typer.Option(_DEFAULTS["ctx_size"].default, "--ctx-size", help="context tokens per slot"),
    threads: int = typer.Option(_DEFAULTS["threads"].default, "--threads", help="CPU threads for llama.cpp"),
    request_log: Path | None = typer.Option(
        None, "--request-log", help="append one JSON line per request to this file"
    ),
    access_log: bool = typer.Option(False, "--access-log", help="print one line per HTTP request"),
) -> None:
    """Serve Ollama's REST API (chat, generate, embed, tags, show, ps, pull, version) with the
    bundled models: smollm2:135m (chat) and all-minilm (embeddings)."""
    from gleitzeit.llm_server.serving import run_server

    run_server(
        ServeOptions(
            host=host,
            port=port,
            parallel=parallel,
            ctx_size=ctx_size,
            threads=threads,
            request_log=request_log,
            access_log=access_log,
        )
    )
