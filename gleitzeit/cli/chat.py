"""`gleitzeit chat "prompt"`: one durable chat turn (or a streamed, non-durable one with --stream)."""

from __future__ import annotations

import sys

import typer

from gleitzeit.cli.app import app
from gleitzeit.client.commands import EXIT_OK, MODE_OPTION, make_client, run_command
from gleitzeit.client.defaults import DEFAULT_CHAT_MODEL

__all__ = ["chat"]


@app.command()
def chat(
    prompt: str = typer.Argument(..., help="what to ask"),
    model: str = typer.Option(
        DEFAULT_CHAT_MODEL,
        "--model",
        "-m",
        help="model name (the default falls back to the server's default model)",
    ),
    system: str | None = typer.Option(None, "--system", help="system prompt"),
    temperature: float = typer.Option(0.7, "--temperature"),
    max_tokens: int | None = typer.Option(None, "--max-tokens"),
    stream: bool = typer.Option(False, "--stream", help="print the answer as it is written (not durable)"),
    mode: str = MODE_OPTION,
) -> None:
    """Ask a model and print the answer."""

    async def body() -> int:
        async with make_client(mode) as client:
            if stream:
                async for chunk in client.chat_stream(
                    prompt, model=model, temperature=temperature, max_tokens=max_tokens, system=system
                ):
                    sys.stdout.write(chunk)
                    sys.stdout.flush()
                sys.stdout.write("\n")
            else:
                answer = await client.chat(
                    prompt, model=model, temperature=temperature, max_tokens=max_tokens, system=system
                )
                print(answer)
        return EXIT_OK

    raise typer.Exit(run_command(body))
