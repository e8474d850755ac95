"""`gleitzeit dev`: the whole local stack in one command (dev server + web UI, LLM server, worker)."""

from __future__ import annotations

import signal

import typer

from gleitzeit.cli.app import app

__all__ = ["dev"]


async def _dev(llm: bool) -> None:
    import asyncio

    from rich.console import Console

    from gleitzeit.config import get_settings
    from gleitzeit.services.runtime import LocalRuntime
    from gleitzeit.services.temporal_dev import stop_dev_server

    settings = get_settings()
    console = Console(stderr=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with LocalRuntime(settings, worker="always", need_llm=llm) as rt:
        for note in rt.notes:
            console.print(f"[dim]{note}[/]")
        console.print(
            f"[bold green]ready[/]: Temporal {settings.temporal_address}, web UI "
            f"http://localhost:{settings.ui_port}, LLM server {settings.ollama_host}, "
            f"task queue '{settings.task_queue}'. Ctrl-C stops."
        )
        await stop.wait()
        console.print("stopping...")
        started_server = rt.dev_server is not None
    if started_server:
        stop_dev_server(settings)
        console.print("dev server stopped")


@app.command()
def dev(
    llm: bool = typer.Option(True, "--llm/--no-llm", help="start the embedded LLM server if none answers"),
    stop: bool = typer.Option(False, "--stop", help="stop a dev server that `gleitzeit run` left running"),
) -> None:
    """Run the local stack: Temporal dev server with web UI, LLM server, and a worker."""
    from rich.console import Console

    from gleitzeit.config import get_settings
    from gleitzeit.services.temporal_dev import stop_dev_server

    if stop:
        stopped = stop_dev_server(get_settings())
        Console(stderr=True).print("dev server stopped" if stopped else "no dev server of ours is running")
        return
    import asyncio

    asyncio.run(_dev(llm))
