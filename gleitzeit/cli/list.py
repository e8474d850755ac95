"""`gleitzeit list`: recent runs, newest first."""

from __future__ import annotations

import json

import typer

from gleitzeit.cli.app import app
from gleitzeit.client.commands import EXIT_OK, MODE_OPTION, make_client, run_command
from gleitzeit.core.errors import ValidationError

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
    limit: int = typer.Option(20, "--limit", "-n", help="how many runs"),
    status: str | None = typer.Option(
        None, "--status", help="only runs with this status (running, failed ...)"
    ),
    mode: str = MODE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="print JSON"),
) -> None:
    """List recent workflow runs."""
    from rich.console import Console
    from rich.table import Table

    async def body() -> int:
        query = None
        if status is not None:
            if status not in _STATUS_QUERY:
                raise ValidationError(f"--status must be one of {', '.join(_STATUS_QUERY)}, not {status!r}")
            query = f"ExecutionStatus='{_STATUS_QUERY[status]}'"
        if not 1 <= limit <= 1000:
            raise ValidationError("--limit must be between 1 and 1000")
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
