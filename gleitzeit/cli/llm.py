"""`gleitzeit llm serve`: the embedded LLM server speaking Ollama's REST API; `gleitzeit llm models`:
the models of the LLM server at OLLAMA_HOST."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from gleitzeit.cli.app import llm_app
from gleitzeit.client.commands import EXIT_OK, MODE_OPTION, make_client, run_command
from gleitzeit.llm_server.options import DEFAULT_HOST, DEFAULT_PORT, ServeOptions

__all__ = ["models", "serve"]

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


@llm_app.command("models")
def models(
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    mode: str = MODE_OPTION,
) -> None:
    """List the models of the LLM server at OLLAMA_HOST, with sizes and capabilities."""

    from rich.console import Console
    from rich.table import Table

    async def body() -> int:
        async with make_client(mode, start_services=False) as client:
            found = await client.describe_models()
            host = client.settings.ollama_host
        if as_json:
            print(json.dumps([m.model_dump(mode="json") for m in found], indent=2))
            return EXIT_OK
        table = Table(box=None, header_style="bold")
        for column in ("model", "size", "parameters", "quantization", "capabilities"):
            table.add_column(column)
        for m in found:
            table.add_row(
                m.name,
                _size(m.size),
                m.parameter_size or "",
                m.quantization_level or "",
                ", ".join(m.capabilities),
            )
        Console(soft_wrap=True).print(table if found else f"the LLM server at {host} has no models")
        return EXIT_OK

    raise typer.Exit(run_command(body))


def _size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} GB"
