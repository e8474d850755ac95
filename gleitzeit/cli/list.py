"""`gleitzeit list`: recent runs, newest first."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from gleitzeit.cli.app import app
from gleitzeit.client.commands import EXIT_OK, MODE_OPTION, make_client, run_command

__all__ = ["list_runs"]

_STATUS_QUERY = {
    "running": "Running",
    "completed": "Completed",
    "failed": "Failed",
    "cancelled": "Canceled",
    "terminated": "Terminated",
    "timed_out": "TimedOut",
}


@app.command("list")
def list_runs(
    limit: int = typer.Option(20, "--limit", "-n", min=1, max=1000, help="how many runs"),
    status: str | None = typer.Option(
        None, "--status", help="only runs with this status (running, failed ...)"
    ),
    mode: str = MODE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List recent workflow runs."""
    query = None
    if status is not None:
        if status not in _STATUS_QUERY:
            raise typer.BadParameter(f"--status must be one of {', '.join(_STATUS_QUERY)}")
        query = f"ExecutionStatus='{_STATUS_QUERY[status]}'"

    async def body() -> int:
        async with make_client(mode, start_services=False) as client:
            runs = await client.list_workflows(limit, query)
        if as_json:
            print(json.dumps([r.model_dump(mode="json") for r in runs], indent=2))
            return EXIT_OK
        table = Table(box=None, header_style="bold")
        for column in ("workflow id", "type", "status", "started", "ended"):
            table.add_column(column)
        for r in runs:
            table.add_row(
                r.workflow_id,
                r.name or r.workflow_type or "",
                r.status.value,
                r.started_at.strftime("%Y-%m-%d %H:%M:%S") if r.started_at else "",
                r.completed_at.strftime("%H:%M:%S") if r.completed_at else "",
            )
        Console(soft_wrap=True).print(table if runs else "no runs")
        return EXIT_OK

    raise typer.Exit(run_command(body))
