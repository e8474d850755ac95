"""`gleitzeit validate FILE...`: check workflow files without running them.

Prints each problem as ``FILE:LINE:COL: task 'x', key 'y': message (hint: ...)`` (coloured on a
terminal), or with ``--json`` one JSON list with an object per file:
``{"file", "valid", "tasks", "problems": [problem dicts], "warnings": [problem dicts]}``; warnings
(``gleitzeit.dsl.advice``: allowed, likely unmeant) go to stderr and never make a file invalid. Exit status: 0 when every file is valid,
1 when any is invalid, 2 when a file does not exist or was refused unread as a workflow (larger than
``GLEITZEIT_MAX_PIPELINE_BYTES``, an alias bomb, nested too deep, not text: see
``gleitzeit.dsl.loader.REFUSALS``); those answers cost milliseconds, not the file's expansion.
test file (``gleitzeit.testing``): its pipeline, tasks, regexes and expect keys.

Quick to start (issue 24: within 3x of ``python -c "import yaml, pydantic"``): the dsl is imported
when the command runs, rich only for a terminal's colours, the test-file reader only for a
``*.test.yaml``, the MCP client only for a pipeline with tool tasks; never Temporal's SDK or Docker.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path

import typer

from gleitzeit.cli.app import app
from gleitzeit.core.errors import Problem, ValidationError

__all__ = ["TEST_SUFFIX", "format_problem", "validate"]

# gleitzeit.testing.testfile.TEST_SUFFIX, here too so that a pipeline is checked without importing
# the test-file reader (a test pins that the two are the same).
TEST_SUFFIX = ".test.yaml"


def format_problem(p: Problem, *, markup: bool = False) -> str:
    """``FILE:LINE:COL: task 'x', key 'y': message (hint: ...)``; with rich markup when asked."""
    where = p.location()
    about = ", ".join(
        part for part in (f"task '{p.task}'" if p.task else "", f"key '{p.key}'" if p.key else "") if part
    )
    if not markup:
        text = f"{where}: " + (f"{about}: " if about else "") + p.message
        return text + (f" (hint: {p.hint})" if p.hint else "")
    from rich.markup import escape

    text = f"[bold]{escape(where)}[/]: " + (f"[cyan]{escape(about)}[/]: " if about else "")
    text += f"[red]{escape(p.message)}[/]"
    return text + (f" [dim](hint: {escape(p.hint)})[/]" if p.hint else "")


def _colour(as_json: bool) -> bool:
    """Colours for a terminal (as rich decides it: FORCE_COLOR forces, NO_COLOR turns them off)."""
    if as_json or "NO_COLOR" in os.environ:
        return False
    return bool(os.environ.get("FORCE_COLOR")) or sys.stdout.isatty()


class _Out:
    """Lines on stdout: through rich in colour on a terminal, plain text otherwise (without rich)."""

    def __init__(self, colour: bool) -> None:
        self._print: Callable[[str], None] | None = None
        if colour:
            from rich.console import Console

            self._print = Console(highlight=False, soft_wrap=True).print

    def problem(self, p: Problem) -> None:
        if self._print is None:
            typer.echo(format_problem(p))
        else:
            self._print(format_problem(p, markup=True))

    def line(self, text: str, style: str) -> None:
        if self._print is None:
            typer.echo(text)
        else:
            from rich.markup import escape

            self._print(f"[{style}]{escape(text)}[/]")


def _parse_inputs(pairs: list[str]) -> dict[str, str]:
    given: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"expected key=value, got {pair!r}", param_hint="'-i'")
        given[key.strip()] = value
    return given


@app.command()
def validate(
    files: list[Path] = typer.Argument(..., help="Workflow files (YAML) to check.", show_default=False),
    as_json: bool = typer.Option(False, "--json", help="Print the problems as JSON (for machines)."),
    inputs: list[str] = typer.Option(
        [], "--input", "-i", help="key=value: also check that these inputs bind (repeatable)."
    ),
) -> None:
    """Check workflow files: YAML, keys, methods, parameters, references, dependencies, cycles."""
    # Imported here, not at the top: `gleitzeit --help` and the other commands do not need them.
    from gleitzeit.dsl.advice import warnings_for
    from gleitzeit.dsl.inputs import bind_inputs
    from gleitzeit.dsl.loader import REFUSALS, load_workflow
    from gleitzeit.dsl.methods import mcp_tool_name

    given = _parse_inputs(inputs)
    missing = [f for f in files if not f.is_file()]
    if missing:
        for f in missing:
            what = "is a directory, not a workflow file" if f.is_dir() else "does not exist"
            typer.echo(f"error: {f} {what}", err=True)
        raise typer.Exit(2)
    out = _Out(_colour(as_json))
    report = []
    any_invalid = any_refused = False
    for f in files:
        problems: list[Problem] = []
        warnings: list[Problem] = []
        n_tasks = 0
        if f.name.endswith(TEST_SUFFIX):  # a pipeline's tests (gleitzeit.testing): checked as such
            from gleitzeit.testing.testfile import load_test_file

            try:
                cases = len(load_test_file(f).cases)
            except ValidationError as exc:
                problems, cases = exc.problems, 0
            any_invalid = any_invalid or bool(problems)
            report.append(
                {
                    "file": str(f),
                    "valid": not problems,
                    "cases": cases,
                    "problems": [p.to_dict() for p in problems],
                }
            )
            if not as_json:
                for p in problems:
                    out.problem(p)
                summary = (
                    f"{f}: ok ({cases} test case{'s' if cases != 1 else ''})"
                    if not problems
                    else (f"{f}: {len(problems)} problem{'s' if len(problems) != 1 else ''}")
                )
                typer.echo(summary)
            continue
        try:
            spec = load_workflow(f)
            n_tasks = len(spec.tasks)
            warnings = warnings_for(spec)
            if given:
                bind_inputs(spec, given)
            # MCP tool names are checked against the servers that answer (bounded; notes for the rest).
            if any(mcp_tool_name(t.method) for t in spec.tasks):
                import asyncio

                from gleitzeit.config import get_settings
                from gleitzeit.mcp_tools.check import check_tools

                tools = asyncio.run(check_tools(spec, get_settings()))
                problems = tools.problems
                for note in tools.notes:
                    typer.echo(f"{f}: note: {note}", err=True)
        except ValidationError as exc:
            problems = exc.problems
        any_invalid = any_invalid or bool(problems)
        any_refused = any_refused or any(p.code in REFUSALS for p in problems)
        report.append(
            {
                "file": str(f),
                "valid": not problems,
                "tasks": n_tasks,
                "problems": [p.to_dict() for p in problems],
                "warnings": [w.to_dict() for w in warnings],
            }
        )
        if as_json:
            continue
        for w in warnings:  # allowed, so not counted as problems; on stderr, like notes
            typer.echo(format_problem(w).replace(": ", ": warning: ", 1), err=True)
        for p in problems:
            out.problem(p)
        if not problems:
            ok = f"{f}: ok ({n_tasks} task{'s' if n_tasks != 1 else ''})" if n_tasks else f"{f}: ok (batch)"
            out.line(ok, "green")
        else:
            summary = f"{f}: {len(problems)} problem{'s' if len(problems) != 1 else ''}"
            out.line(summary, "bold red")
    if as_json:
        typer.echo(json.dumps(report, indent=2))
    raise typer.Exit(2 if any_refused else 1 if any_invalid else 0)
