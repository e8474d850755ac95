"""`gleitzeit test [PATH ...]`: run ``*.test.yaml`` files on Temporal's time-skipping test server.

Prints a line per case (PASS/FAIL, wall time, virtual time) and, for a failure, what differed;
``--json`` prints one JSON document instead, ``--junit FILE`` writes a JUnit XML report too.
``--record`` runs each case once against the real LLM server and writes its answers into the
file's ``llm:`` block. Exit status: 0 all passed, 1 a case failed, 2 an invalid test file (every
problem located, as `gleitzeit validate` prints them) or no test file found.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from gleitzeit.cli.app import app
from gleitzeit.cli.validate import format_problem
from gleitzeit.core.errors import GleitzeitError

if TYPE_CHECKING:
    from rich.console import Console

    # Imported where used: the other commands and `gleitzeit --help` do not pay for the test runner.
    from gleitzeit.testing.runner import CaseOutcome
    from gleitzeit.testing.testfile import TestFile

__all__ = ["test"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2


async def _run(
    files: list[TestFile], as_json: bool, junit: Path | None, console: Console, colour: bool
) -> int:
    from rich.markup import escape

    from gleitzeit.config import get_settings
    from gleitzeit.testing.report import case_line, dumps, summary_line, to_json, write_junit
    from gleitzeit.testing.runner import run_cases
    from gleitzeit.testing.session import TestSession

    began = time.perf_counter()

    def show(outcome: CaseOutcome) -> None:
        if as_json:
            return
        text = case_line(outcome)
        if colour:
            head, *rest = text.split("\n")
            style = "green" if outcome.passed else "bold red"
            console.print(f"[{style}]{escape(head[:4])}[/]{escape(head[4:])}")
            for line in rest:
                console.print(f"[red]{escape(line)}[/]")
        else:
            typer.echo(text)

    async with TestSession(get_settings()) as session:
        outcomes = await run_cases(session, files, show)
    wall = time.perf_counter() - began
    if junit is not None:
        write_junit(junit, outcomes, wall)
    if as_json:
        typer.echo(dumps(to_json(outcomes, wall)))
    else:
        typer.echo(summary_line(outcomes, wall))
    return EXIT_OK if all(o.passed for o in outcomes) else EXIT_FAILED


async def _record(files: list[TestFile]) -> int:
    from gleitzeit.config import get_settings
    from gleitzeit.testing.record import record_files
    from gleitzeit.testing.report import duration_text

    def show(file: str, case: str, run: object) -> None:
        status = getattr(run, "status", "?")
        typer.echo(f"recorded {file}::{case} ({status}, {duration_text(getattr(run, 'wall_time', 0.0))})")

    await record_files(files, get_settings(), show)
    return EXIT_OK


@app.command()
def test(
    paths: list[Path] = typer.Argument(
        None,
        help="Test files or folders (default: every *.test.yaml under the current directory).",
        show_default=False,
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the results as one JSON document."),
    junit: Path | None = typer.Option(None, "--junit", help="Also write a JUnit XML report to this file."),
    record: bool = typer.Option(
        False, "--record", help="Run once against the real LLM server and write its answers into llm: blocks."
    ),
) -> None:
    """Test pipelines: scripted LLM answers, injected failures, hours of retries in milliseconds."""
    from rich.console import Console

    from gleitzeit.testing.runner import discover, load_files

    found, missing = discover(paths or [Path(".")])
    for path in missing:
        typer.echo(f"error: {path} does not exist", err=True)
    if missing:
        raise typer.Exit(EXIT_INVALID)
    if not found:
        where = ", ".join(map(str, paths or [Path(".")]))
        typer.echo(f"error: no *.test.yaml files under {where}", err=True)
        raise typer.Exit(EXIT_INVALID)
    console = Console(highlight=False, soft_wrap=True)
    colour = console.is_terminal and not as_json and "NO_COLOR" not in os.environ
    files, problems = load_files(found)
    if problems:
        if as_json:
            typer.echo(json.dumps({"valid": False, "problems": [p.to_dict() for p in problems]}, indent=2))
        for p in problems:
            if as_json:
                break
            console.print(format_problem(p, markup=True)) if colour else typer.echo(format_problem(p))
        bad = len({p.file for p in problems})
        typer.echo(f"{bad} invalid test file{'s' if bad != 1 else ''}: nothing was run", err=True)
        raise typer.Exit(EXIT_INVALID)
    # The SDK logs every failed activity attempt; the report says what matters.
    logging.getLogger("temporalio").setLevel(logging.CRITICAL)
    try:
        import asyncio

        rc = asyncio.run(_record(files) if record else _run(files, as_json, junit, console, colour))
    except GleitzeitError as exc:
        typer.echo(f"error: {exc}", err=True)
        rc = EXIT_FAILED
    raise typer.Exit(rc)
