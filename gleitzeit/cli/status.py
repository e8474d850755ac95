"""`gleitzeit status`: Temporal, workers, the LLM server and Docker at a glance.

Exit 1 without Temporal, or when a worker asked about with ``--worker-health`` (or listed in
``GLEITZEIT_WORKER_HEALTH_URLS``) is not healthy.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import typer

from gleitzeit.cli.app import app
from gleitzeit.client.commands import EXIT_FAILED, EXIT_OK, MODE_OPTION, make_client, run_command

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["status"]


def _line(console: Console, name: str, part: dict[str, Any], detail: str) -> None:
    ok = part.get("available")
    mark = "[green]✓[/]" if ok else "[red]✗[/]"
    text = detail if ok else (part.get("error") or "not available")
    console.print(f"{mark} [bold]{name:<9}[/] {text}", highlight=False)


def _health_line(console: Console, report: dict[str, Any]) -> None:
    ok = report.get("healthy")
    if "error" in report and not report.get("slots"):
        detail = report["error"]
    else:
        slots = report.get("slots", {}).get("ActivityWorker", {})
        detail = (
            f"{'polling' if report.get('polling') else 'NOT polling'}, activity slots "
            f"{slots.get('used', 0):.0f} used / {slots.get('available', 0):.0f} free, "
            f"loop lag {report.get('loop_lag_seconds', 0):.1f} s"
        )
    mark = "[green]✓[/]" if ok else "[red]✗[/]"
    console.print(f"  {mark} {report.get('url')}: {detail}", highlight=False)


def _host_line(console: Console, host: dict[str, Any]) -> None:
    """One host of the Ollama pool: health, load against its cap, tags and models."""
    from rich.markup import escape

    mark = "[green]✓[/]" if host.get("healthy") else "[red]✗[/]"
    load = f"{host.get('active', 0)}/{host.get('max_concurrent')} busy, {host.get('served', 0)} served"
    tags = f" [{', '.join(host['tags'])}]" if host.get("tags") else ""
    detail = ", ".join(host.get("models") or []) or "no models" if host.get("healthy") else host.get("error")
    url = str(host.get("url"))
    name = url if url.split("://", 1)[-1] == host.get("id") else f"{host.get('id')} ({url})"
    console.print(f"  {mark} {escape(f'{name}{tags}: {load}; {detail}')}", highlight=False)


@app.command()
def status(
    mode: str = MODE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
    worker_health: list[str] = typer.Option(
        [],
        "--worker-health",
        help="a worker's health endpoint (host:port of `gleitzeit worker --metrics-port`); repeatable. "
        "Default GLEITZEIT_WORKER_HEALTH_URLS",
    ),
) -> None:
    """Show whether Temporal, workers, the LLM server and Docker are available."""
    from rich.console import Console

    async def body() -> int:
        async with make_client(mode, start_services=False) as client:
            answer = await client.get_status()
            if worker_health:
                answer.setdefault("workers", {})["health"] = await client.worker_health(worker_health)
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
            for report in w.get("health") or []:
                _health_line(console, report)
            if o.get("hosts"):
                healthy = sum(1 for h in o["hosts"] if h.get("healthy"))
                _line(console, "llm", o, f"{healthy} of {len(o['hosts'])} Ollama hosts healthy")
                for host in o["hosts"]:
                    _host_line(console, host)
            else:
                _line(
                    console, "llm", o, f"{o.get('host')}: {', '.join(o.get('models') or []) or 'no models'}"
                )
            _line(console, "docker", d, f"sandbox image {d.get('image')}")
        healthy_workers = all(r.get("healthy") for r in answer.get("workers", {}).get("health") or [])
        return EXIT_OK if answer.get("temporal", {}).get("available") and healthy_workers else EXIT_FAILED

    raise typer.Exit(run_command(body))
