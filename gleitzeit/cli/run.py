"""`gleitzeit run FILE`: validate, start on Temporal (starting what is missing), show progress, print.

Exit codes: 0 success, 1 a task (or the run) failed, 2 the file or its inputs are invalid.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from gleitzeit.cli.app import app
from gleitzeit.core.errors import (
    ExecutionError,
    GleitzeitError,
    TaskExecutionError,
    TimeoutError,
    ValidationError,
)

if TYPE_CHECKING:
    from rich.console import Console

    # Imported where used: `gleitzeit --help` and the other commands must not pay for Temporal's client.
    from temporalio.client import WorkflowHandle

    from gleitzeit.config import Settings
    from gleitzeit.contracts.dag import DagResult
    from gleitzeit.contracts.spec import WorkflowSpec
    from gleitzeit.services.runtime import WorkerMode

__all__ = ["failure_report", "load_for_run", "parse_inputs", "run"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
# How long a failed run's report waits for the workflow to say its tasks' states.
FAILURE_QUERY_SECONDS = 5.0


def parse_inputs(pairs: list[str]) -> dict[str, str]:
    """``-i key=value`` pairs; values stay strings, the workflow's declared types coerce them."""
    inputs: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"input '{pair}' must look like key=value (e.g. -i topic=rivers)")
        inputs[key.strip()] = value
    return inputs


def load_for_run(file: Path, raw_inputs: dict[str, Any]) -> tuple[WorkflowSpec, dict[str, Any]]:
    """Load and bind inputs; raises ValidationError with every problem.

    The batch form stays a batch (``spec.batch``): `gleitzeit run` sends it through BatchWorkflow
    (gleitzeit.cli.batch_run), never expanded into one DAG task per file.
    """
    from gleitzeit.dsl import load_workflow
    from gleitzeit.dsl.inputs import bind_inputs

    if not file.exists():
        raise ValidationError(f"{file}: no such file")
    spec = load_workflow(file)
    return spec, bind_inputs(spec, raw_inputs)


def _print_result(console: Console, result: DagResult, settings: Settings, run_id: str | None) -> None:
    if result.outputs:
        console.print("[bold]outputs[/]")
        for name, value in result.outputs.items():
            console.print(f"  [cyan]{name}[/]: {_show(value)}")
    else:
        console.print("[bold]results[/]")
        for task_id, value in result.results.items():
            console.print(f"  [cyan]{task_id}[/]: {_show(_primary(value))}")
    for warning in result.warnings:
        console.print(f"[yellow]warning:[/] {warning}")
    failed = [t for t in result.tasks if t.state == "failed"]
    for t in failed:
        console.print(f"[yellow]task {t.task_id} failed (on_error: continue):[/] {t.error}")


async def failure_report(
    exc: TaskExecutionError | TimeoutError | ExecutionError,
    handle: WorkflowHandle[Any, Any],
    spec: WorkflowSpec,
) -> dict[str, Any]:
    """A failed run as ``--json`` prints it: a successful run's shape (results of the tasks that
    finished, every task's state) plus the error fields (error, error_type, task_id, attempts)."""
    import asyncio

    from gleitzeit.workflows.dag import DagWorkflow

    tasks = list(getattr(exc, "tasks", None) or [])
    if not tasks:
        # Cancelled or terminated runs carry no details: ask the workflow, briefly (a closed run
        # is answered by any worker of its queue; without one the report goes without states).
        with contextlib.suppress(Exception):
            progress = await asyncio.wait_for(handle.query(DagWorkflow.progress), FAILURE_QUERY_SECONDS)
            tasks = [t.model_dump(mode="json") for t in progress.tasks]
    if isinstance(exc, TaskExecutionError):
        error_type = exc.cause_type
    elif isinstance(exc, TimeoutError):
        error_type = "WorkflowTimeout"
    else:
        error_type = type(exc).__name__
    return {
        "workflow_id": handle.id,
        "name": spec.name,
        "status": "failed",
        "results": dict(getattr(exc, "partial_results", None) or {}),
        "outputs": {},
        "tasks": tasks,
        "warnings": [],
        "error": str(exc),
        "error_type": error_type,
        "task_id": getattr(exc, "task_id", None),
        "attempts": getattr(exc, "attempts", None),
    }


def _primary(value: Any) -> Any:
    if isinstance(value, dict):
        for key in ("response", "result", "embeddings"):
            if key in value:
                return value[key]
    return value


def _show(value: Any, limit: int = 2000) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f" ... ({len(text)} chars)"


async def _run(
    file: Path,
    inputs: dict[str, str],
    as_json: bool,
    wait: bool,
    worker: WorkerMode | None,
    workflow_id: str | None,
) -> int:
    from rich.console import Console

    from gleitzeit.cli.progress import announce_start, watch_progress, watching
    from gleitzeit.client.starter import start_pipeline, wait_result, web_url
    from gleitzeit.config import get_settings
    from gleitzeit.services.runtime import LocalRuntime

    settings = get_settings()
    worker = worker or settings.worker
    # The SDK logs every failed activity attempt with its traceback; the run's own report says it all.
    logging.getLogger("temporalio").setLevel(logging.ERROR)
    # soft_wrap: long URLs and answers stay on one line in logs and pipes (no hard wrap at 80 columns).
    out = Console(soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    try:
        spec, bound = load_for_run(file, inputs)
    except ValidationError as exc:
        err.print(f"[red]invalid workflow[/] {file}:")
        for problem in exc.problems or []:
            err.print(f"  {problem}", markup=False, highlight=False)
        if not exc.problems:
            err.print(f"  {exc}", markup=False, highlight=False)
        return EXIT_INVALID

    # -- batch form: the durable BatchWorkflow (see gleitzeit.cli.batch_run) --
    if spec.batch is not None:
        from gleitzeit.cli.batch_run import run_batch_form

        return await run_batch_form(
            spec,
            bound,
            settings,
            as_json=as_json,
            wait=wait,
            worker=worker,
            workflow_id=workflow_id,
            out=out,
            err=err,
        )
    # -- end batch form --

    need_llm = any(t.method.startswith("llm/") for t in spec.tasks)
    async with LocalRuntime(settings, worker=worker if wait else "never", need_llm=need_llm) as rt:
        for note in rt.notes:
            err.print(f"[dim]{note}[/]")
        assert rt.client is not None
        handle = await start_pipeline(rt.client, spec, bound, settings, workflow_id=workflow_id)
        url = web_url(settings, handle.id, handle.result_run_id)
        if not await announce_start(
            rt, handle, "workflow", url, wait=wait, as_json=as_json, out=out, err=err
        ):
            return EXIT_OK

        try:
            async with watching(watch_progress, handle, err):
                result = await wait_result(handle)
        except (TaskExecutionError, TimeoutError, ExecutionError) as exc:
            err.print(f"[red]workflow {handle.id} failed:[/] {exc}", highlight=False)
            if isinstance(exc, TaskExecutionError) and exc.cause_type:
                err.print(f"  task: {exc.task_id}  cause: {exc.cause_type}", highlight=False)
            err.print(f"  inspect: {url}")
            if as_json:
                report = await failure_report(exc, handle, spec)
                print(json.dumps(report, indent=2, default=str))
            return EXIT_FAILED
        if as_json:
            print(result.model_dump_json(indent=2))
        else:
            _print_result(out, result, settings, handle.result_run_id)
            err.print(f"workflow [bold]{handle.id}[/] {result.status}: {url}")
        return EXIT_OK


@app.command()
def run(
    file: Path = typer.Argument(..., help="workflow YAML file"),
    input: list[str] = typer.Option([], "--input", "-i", help="workflow input as key=value (repeatable)"),
    as_json: bool = typer.Option(False, "--json", help="print the result as JSON on stdout"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="wait for the result (default) or only start"),
    worker: str | None = typer.Option(
        None,
        help="in-process worker: auto (when no live worker polls the task queue and Temporal runs on "
        "this machine), always, never (default: GLEITZEIT_WORKER, else auto)",
    ),
    workflow_id: str | None = typer.Option(None, "--id", help="workflow id (default: name + random part)"),
) -> int:
    """Run a workflow file on Temporal and print its outputs."""
    if worker not in (None, "auto", "always", "never"):
        raise typer.BadParameter("--worker must be auto, always or never")
    try:
        inputs = parse_inputs(input)
        import asyncio

        rc = asyncio.run(_run(file, inputs, as_json, wait, worker, workflow_id))  # type: ignore[arg-type]
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        rc = EXIT_INVALID
    except GleitzeitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        rc = EXIT_FAILED
    raise typer.Exit(rc)
