"""`gleitzeit schedule create|list|describe|trigger|pause|unpause|delete|backfill`: pipelines on a
schedule, over Temporal Schedules (the web UI's Schedules page and `temporal schedule list` show them).

Bad input (a cron expression Temporal cannot read, an id that exists, a duration like `5 parsecs`, an
invalid pipeline) is said with what to do and creates nothing: exit 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from gleitzeit.cli.app import app
from gleitzeit.cli.run import parse_inputs
from gleitzeit.client.commands import EXIT_OK, MODE_OPTION, make_client, run_command

if TYPE_CHECKING:  # imported by the commands that use them: `gleitzeit --help` stays light
    from gleitzeit.client.schedules import ScheduleInfo

__all__ = ["schedule_app"]

schedule_app = typer.Typer(help="Run pipelines on a schedule (Temporal Schedules).", no_args_is_help=True)
app.add_typer(schedule_app, name="schedule")

JSON_OPTION = typer.Option(False, "--json", help="print the answer as JSON")
ID_ARGUMENT = typer.Argument(..., help="the schedule's id (see `gleitzeit schedule list`)")


def _when(info: ScheduleInfo) -> str:
    parts = [f"cron {c}" for c in info.cron] + [f"every {s:g}s" for s in info.every]
    return ", ".join(parts) + (f" ({info.timezone})" if info.timezone else "")


def _say(text: str) -> None:
    from rich.console import Console

    Console(stderr=True, highlight=False).print(text)


@schedule_app.command("create")
def create(
    pipeline: Path = typer.Argument(..., help="the pipeline file (YAML)"),
    schedule_id: str = typer.Option(..., "--id", help="the schedule's id (its runs are ID-<time>)"),
    cron: str | None = typer.Option(None, "--cron", help="a cron expression, e.g. '0 6 * * *' or @daily"),
    every: str | None = typer.Option(None, "--every", help="a duration, e.g. 1h, 30m, 1d"),
    inputs: list[str] = typer.Option([], "--input", "-i", help="key=value (repeatable)"),
    overlap: str = typer.Option(
        "skip", "--overlap", help="when a run is still going: skip | buffer_one | allow_all"
    ),
    timezone: str | None = typer.Option(
        None, "--timezone", help="for --cron: an IANA name, e.g. Europe/Berlin"
    ),
    mode: str = MODE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a schedule (the pipeline is validated first)."""

    async def body() -> int:
        given = parse_inputs(inputs)  # inside: a bad pair is bad input (exit 2), said plainly
        async with make_client(mode, start_services=False) as client:
            info = await client.schedules.create(
                pipeline,
                schedule_id,
                cron=cron,
                every=every,
                inputs=given,
                overlap=overlap,
                timezone=timezone,
            )
        if as_json:
            print(info.model_dump_json(indent=2))
        else:
            nxt = info.next_runs[0].isoformat(timespec="seconds") if info.next_runs else "none"
            _say(f"schedule [bold]{info.schedule_id}[/] created: {_when(info)}; next run {nxt}")
        return EXIT_OK

    raise typer.Exit(run_command(body))


@schedule_app.command("list")
def list_(mode: str = MODE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """List Gleitzeit's schedules."""

    async def body() -> int:
        async with make_client(mode, start_services=False) as client:
            found = await client.schedules.list()
        if as_json:
            print(json.dumps([s.model_dump(mode="json") for s in found], indent=2))
            return EXIT_OK
        from rich.console import Console
        from rich.table import Table

        table = Table(box=None, header_style="bold")
        for column in ("id", "pipeline", "when", "state", "next run"):
            table.add_column(column)
        for s in found:
            nxt = s.next_runs[0].isoformat(timespec="seconds") if s.next_runs else ""
            table.add_row(s.schedule_id, s.pipeline or "", _when(s), "paused" if s.paused else "active", nxt)
        Console(highlight=False).print(table if found else "no schedules")
        return EXIT_OK

    raise typer.Exit(run_command(body))


@schedule_app.command("describe")
def describe(schedule_id: str = ID_ARGUMENT, mode: str = MODE_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Show one schedule: when it runs, its state, its next and recent runs."""

    async def body() -> int:
        async with make_client(mode, start_services=False) as client:
            info = await client.schedules.describe(schedule_id)
        if as_json:
            print(info.model_dump_json(indent=2))
            return EXIT_OK
        from rich.console import Console

        out = Console(highlight=False)
        out.print(
            f"[bold]{info.schedule_id}[/]: {info.pipeline or ''}, {_when(info)}, overlap {info.overlap}"
        )
        out.print(
            f"state: {'paused' if info.paused else 'active'}" + (f" ({info.note})" if info.note else "")
        )
        out.print(f"runs started: {info.runs}")
        for t in info.next_runs[:5]:
            out.print(f"  next: {t.isoformat(timespec='seconds')}")
        for r in info.recent_runs[-5:]:
            out.print(f"  ran: {r.workflow_id} (due {r.scheduled_at.isoformat(timespec='seconds')})")
        return EXIT_OK

    raise typer.Exit(run_command(body))


def _action(name: str, done: str) -> None:
    @schedule_app.command(name)
    def command(
        schedule_id: str = ID_ARGUMENT,
        mode: str = MODE_OPTION,
    ) -> None:
        async def body() -> int:
            async with make_client(mode, start_services=False) as client:
                await getattr(client.schedules, name)(schedule_id)
            _say(f"schedule [bold]{schedule_id}[/] {done}")
            return EXIT_OK

        raise typer.Exit(run_command(body))

    command.__doc__ = {
        "trigger": "Start one run of a schedule now.",
        "pause": "Pause a schedule (no runs until unpaused).",
        "unpause": "Unpause a schedule.",
        "delete": "Delete a schedule (the runs it started go on).",
    }[name]


for _name, _done in (
    ("trigger", "triggered"),
    ("pause", "paused"),
    ("unpause", "unpaused"),
    ("delete", "deleted"),
):
    _action(_name, _done)


@schedule_app.command("backfill")
def backfill(
    schedule_id: str = ID_ARGUMENT,
    start: str = typer.Option(..., "--from", help="ISO 8601 time with a zone, e.g. 2026-12-01T00:00:00Z"),
    end: str = typer.Option(..., "--to", help="ISO 8601 time with a zone"),
    mode: str = MODE_OPTION,
) -> None:
    """Start the runs the schedule would have started between --from and --to."""

    async def body() -> int:
        from gleitzeit.client.schedules import parse_time

        begin, finish = parse_time(start, "--from"), parse_time(end, "--to")
        async with make_client(mode, start_services=False) as client:
            await client.schedules.backfill(schedule_id, begin, finish)
        _say(f"schedule [bold]{schedule_id}[/] backfilled from {start} to {end}")
        return EXIT_OK

    raise typer.Exit(run_command(body))
