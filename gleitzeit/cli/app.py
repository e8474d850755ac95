"""The typer application every `gleitzeit` sub-command registers on."""

from __future__ import annotations

import typer

__all__ = ["app", "llm_app"]

app = typer.Typer(
    name="gleitzeit",
    help="Durable LLM and Python pipelines from YAML, on Temporal.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

llm_app = typer.Typer(help="The embedded LLM server speaking Ollama's API.", no_args_is_help=True)
app.add_typer(llm_app, name="llm")
