"""`gleitzeit approve WORKFLOW_ID TASK`: answer a run's waiting human/approval task.

``--reject`` rejects it (the task fails with "rejected by <by>: <reason>"); ``--data JSON`` is what
the approver sends (checked against the task's ``schema``); ``--by`` defaults to the user's login
name. A refused answer (wrong task, not waiting, already answered, data that fails the schema) is
said as such and nothing is recorded: exit 2 for data that does not fit, 1 otherwise.
"""

from __future__ import annotations

import getpass
import json
from typing import Any

import typer

from gleitzeit.cli.app import app
from gleitzeit.client.commands import EXIT_INVALID, EXIT_OK, MODE_OPTION, make_client, run_command

__all__ = ["approve"]


def _login() -> str | None:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name (a container without a passwd entry)
        return None


@app.command()
def approve(
    workflow_id: str = typer.Argument(..., help="the run's workflow id (see `gleitzeit list`)"),
    task: str = typer.Argument(..., help="the id of its waiting human/approval task"),
    reject: bool = typer.Option(False, "--reject", help="reject: the task fails with the reason"),
    data: str | None = typer.Option(None, "--data", help='JSON the approver sends (e.g. \'{"note": "ok"}\')'),
    reason: str | None = typer.Option(None, "--reason", help="why (shown in the result or the failure)"),
    by: str | None = typer.Option(None, "--by", help="who answers (default: your login name)"),
    as_json: bool = typer.Option(False, "--json", help="print the recorded answer as JSON"),
    mode: str = MODE_OPTION,
) -> None:
    """Approve (or --reject) a run's waiting human/approval task."""
    value: Any = None
    if data is not None:
        try:
            value = json.loads(data)
        except json.JSONDecodeError as exc:
            typer.echo(
                f'error: --data is not JSON ({exc.msg} at column {exc.colno}): quote it, e.g. --data \'{{"note": "ok"}}\'',
                err=True,
            )
            raise typer.Exit(EXIT_INVALID) from None
    who = by if by is not None else _login()

    async def body() -> int:
        async with make_client(mode, start_services=False) as client:
            answer = await client.approve(
                workflow_id, task, approved=not reject, data=value, reason=reason, by=who
            )
        if as_json:
            print(json.dumps(answer))
        else:
            from rich.console import Console

            verb = "rejected" if reject else "approved"
            Console(stderr=True, highlight=False).print(
                f"task [bold]{task}[/] of [bold]{workflow_id}[/] {verb}" + (f" by {who}" if who else "")
            )
        return EXIT_OK

    raise typer.Exit(run_command(body))
