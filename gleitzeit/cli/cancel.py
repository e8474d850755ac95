"""`gleitzeit cancel ID`: cancel a running run (finished tasks keep their results)."""

from __future__ import annotations

import typer

from gleitzeit.cli.app import app
from gleitzeit.client.commands import EXIT_OK, MODE_OPTION, make_client, run_command

__all__ = ["cancel"]


@app.command()
def cancel(
    workflow_id: str = typer.Argument(..., help="the run's workflow id (see `gleitzeit list`)"),
    mode: str = MODE_OPTION,
) -> None:
    """Cancel a run."""
    from rich.console import Console

    async def body() -> int:
        async with make_client(mode, start_services=False) as client:
            run = await client.get_workflow(workflow_id)
            await run.cancel()
            status = await run.status()
        Console(stderr=True).print(
            f"workflow [bold]{workflow_id}[/]: cancel requested (status {status.value})"
        )
        return EXIT_OK

    raise typer.Exit(run_command(body))
