"""`gleitzeit status`: Temporal, workers, the LLM server and Docker at a glance (exit 1 without Temporal)."""

from __future__ import annotations

import json
from typing import Any

import typer
from rich.console import Console

from gleitzeit.cli.app import app
from gleitzeit.client.commands import EXIT_FAILED, EXIT_OK, MODE_OPTION, make_client, run_command

__all__ = ["status"]


def _line(console: Console, name: str, part: dict[str, Any], detail: str) -> None:
    ok = part.get("available")
    mark = "[green]✓[/]" if ok else "[red]✗[/]"
    text = detail if ok else (part.get("error") or "not available")
    console.print(f"{mark} [bold]{name:<9}[/] {text}", highlight=False)


@app.command()
def status(mode: str = MODE_OPTION, as_json: bool = typer.Option(False, "--json", help="print JSON")) -> None:
    """Show whether Temporal, workers, the LLM server and Docker are available."""

    async def body() -> int:
        async with make_client(mode, start_services=False) as client:
            answer = await client.get_status()
        if as_json:
            print(json.dumps(answer, indent=2, default=str))
        else:
            console = Console(soft_wrap=True)
            console.print(f"mode: {answer.get('mode')}")
            if "api" in answer:
                _line(console, "api", answer["api"], str(answer["api"].get("url", "")))
            t, w, o, d = (answer.get(k, {}) for k in ("temporal", "workers", "ollama", "docker"))
            _line(
                console,
                "temporal",
                t,
                f"{t.get('address')} (namespace {t.get('namespace')}), UI {t.get('web_ui')}",
            )
            _line(console, "workers", w, f"{w.get('pollers')} live, polling '{w.get('task_queue')}'")
            _line(console, "llm", o, f"{o.get('host')}: {', '.join(o.get('models') or []) or 'no models'}")
            _line(console, "docker", d, f"sandbox image {d.get('image')}")
        return EXIT_OK if answer.get("temporal", {}).get("available") else EXIT_FAILED

    raise typer.Exit(run_command(body))
