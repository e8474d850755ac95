"""`gleitzeit resume ID`: run an ended run's pipeline again as a new run, carrying over the results of
the tasks that completed (see docs/resume.md).

Prints what is carried and what runs (and why) before the run starts; ``--dry-run`` prints only that.
Exit codes: 0 success, 1 a task (or the run) failed, 2 bad input (unknown id, a run still running,
``--from`` naming no task, an edited file that does not validate).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from gleitzeit.cli.app import app
from gleitzeit.cli.run import parse_inputs
from gleitzeit.client.commands import EXIT_FAILED, EXIT_INVALID, EXIT_OK, MODE_OPTION, make_client
from gleitzeit.core.errors import (
    ConflictError,
    ExecutionError,
    GleitzeitError,
    NotFoundError,
    TimeoutError,
    ValidationError,
)

if TYPE_CHECKING:
    from rich.console import Console

    from gleitzeit.core.models import ResumePlan, WorkflowExecution

__all__ = ["execution_report", "print_plan", "resume"]

# Tasks named per line of the plan before "... and N more".
SHOWN = 30


def print_plan(plan: ResumePlan, console: Console) -> None:
    """What is carried and what runs, with the reason of each task that runs."""
    if plan.kind == "batch":
        for note in plan.notes:
            console.print(f"batch {plan.workflow_id}: {note}", markup=False, highlight=False)
        return
    more = f" ... and {len(plan.carried) - SHOWN} more" if len(plan.carried) > SHOWN else ""
    console.print(
        f"carried from {plan.workflow_id} ({len(plan.carried)}): {', '.join(plan.carried[:SHOWN]) or '-'}{more}",
        markup=False,
        highlight=False,
    )
    console.print(f"runs ({len(plan.to_run)}):", markup=False, highlight=False)
    for task_id in plan.to_run[:SHOWN]:
        console.print(f"  {task_id}: {plan.reasons.get(task_id, '')}", markup=False, highlight=False)
    if len(plan.to_run) > SHOWN:
        console.print(f"  ... and {len(plan.to_run) - SHOWN} more", markup=False)


def execution_report(execution: WorkflowExecution, plan: ResumePlan | None) -> dict[str, Any]:
    """The result in `gleitzeit run --json`'s shape (results, outputs, tasks, warnings), each task
    with its ``origin``; plus which run it resumed."""
    return {
        "workflow_id": execution.workflow_id,
        "name": execution.name,
        "status": execution.status.value,
        "results": {k: r.result for k, r in execution.results.items() if r.success},
        "outputs": execution.outputs,
        "tasks": [
            {
                "task_id": k,
                "state": r.status.value,
                "origin": r.origin,
                "error": r.error,
                "attempts": r.attempts,
                "started_at": r.started_at,
                "ended_at": r.completed_at,
            }
            for k, r in execution.results.items()
        ],
        "warnings": execution.warnings,
        "resumed_from": plan.workflow_id if plan else None,
    }


async def _resume(
    workflow_id: str,
    pipeline: Path | None,
    from_tasks: list[str],
    inputs: dict[str, str],
    *,
    as_json: bool,
    wait: bool,
    dry_run: bool,
    mode: str,
) -> int:
    from rich.console import Console

    from gleitzeit.cli.progress import print_changes

    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    if pipeline is not None and not pipeline.exists():
        raise ValidationError(f"{pipeline}: no such file")
    source = str(pipeline.resolve()) if pipeline is not None else None
    async with make_client(mode) as client:
        if dry_run:
            planned = await client.plan_resume(workflow_id, source, from_tasks, inputs)
            if as_json:
                print(planned.model_dump_json(indent=2))
            else:
                print_plan(planned, out)
            return EXIT_OK
        run = await client.start_resume(workflow_id, source, from_tasks, inputs)
        plan = run.resume_plan
        if plan is not None:
            print_plan(plan, err)
        err.print(f"workflow [bold]{run.workflow_id}[/] started (resuming {workflow_id}): {run.web_url}")
        if not wait:
            if as_json:
                print(json.dumps({"workflow_id": run.workflow_id, "run_id": run.run_id, "url": run.web_url}))
            else:
                out.print(run.workflow_id, markup=False, highlight=False)
            return EXIT_OK
        try:
            execution = await run.result(on_progress=print_changes(err))
        except (ExecutionError, TimeoutError) as exc:
            err.print(f"[red]workflow {run.workflow_id} failed:[/] {exc}", highlight=False)
            if as_json:
                report = {
                    "workflow_id": run.workflow_id,
                    "status": "failed",
                    "results": dict(getattr(exc, "partial_results", None) or {}),
                    "tasks": list(getattr(exc, "tasks", None) or []),
                    "error": str(exc),
                    "task_id": getattr(exc, "task_id", None),
                    "resumed_from": workflow_id,
                }
                print(json.dumps(report, indent=2, default=str))
            return EXIT_FAILED
        if as_json:
            print(json.dumps(execution_report(execution, plan), indent=2, default=str))
        else:
            for name, value in (execution.outputs or {}).items():
                out.print(f"  [cyan]{name}[/]: {value}", highlight=False)
            err.print(f"workflow [bold]{run.workflow_id}[/] {execution.status.value}: {run.web_url}")
        return EXIT_OK


@app.command()
def resume(
    workflow_id: str = typer.Argument(..., help="the ended run to resume (see `gleitzeit list`)"),
    file: Path | None = typer.Option(None, "--file", "-f", help="an edited pipeline file to resume with"),
    from_tasks: list[str] = typer.Option(
        [], "--from", help="run this task and its dependents again even if they completed (repeatable)"
    ),
    input: list[str] = typer.Option([], "--input", "-i", help="override an input as key=value (repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="print the result (or the plan) as JSON on stdout"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="wait for the result (default) or only start"),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="print what is carried and what runs; start nothing"
    ),
    mode: str = MODE_OPTION,
) -> None:
    """Resume a failed, cancelled or timed-out run without redoing its finished tasks."""
    import asyncio
    import sys

    try:
        inputs = parse_inputs(input)
        rc = asyncio.run(
            _resume(
                workflow_id, file, from_tasks, inputs, as_json=as_json, wait=wait, dry_run=dry_run, mode=mode
            )
        )
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)  # every problem, located
        rc = EXIT_INVALID
    except (NotFoundError, ConflictError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        rc = EXIT_INVALID
    except GleitzeitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        rc = EXIT_FAILED
    raise typer.Exit(rc)
