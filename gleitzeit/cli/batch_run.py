"""`gleitzeit run` for the batch form (``type: batch``): always through the durable BatchWorkflow.

Why always, not above a size threshold: one engine for every batch means one behaviour. A DAG of one
task per file would stop at the first failed file (``on_error: fail``), and a threshold would make the
same file behave differently once the folder grows. The batch form therefore never stops at a failed
file: every file is tried, the failures are listed, and the template's ``on_error`` decides the exit
code (``fail``, the default: 1 when any file failed; ``continue``: 0).

Results: a batch of at most ``inline_results_limit`` (1,000) files prints each file's response; a
larger one writes them under ``<data_dir>/batches/<workflow id>/`` (one ``<file>.json`` per file) and
prints that folder. ``${inputs.x}`` references in the template are resolved before the start.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from temporalio.client import WorkflowHandle

from gleitzeit.batch.inputs import batch_input_from_spec
from gleitzeit.batch.workflow import BatchWorkflow
from gleitzeit.cli.progress import announce_start, watching
from gleitzeit.client.batch import start_batch, wait_batch
from gleitzeit.client.starter import web_url
from gleitzeit.config import Settings
from gleitzeit.contracts.batch import BatchProgress, BatchResult
from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import ExecutionError, TimeoutError, ValidationError
from gleitzeit.services.runtime import LocalRuntime, WorkerMode

__all__ = ["run_batch_form", "watch_batch"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2
POLL_INTERVAL = 0.5
# Non-terminal output: one line at most this often (a 100,000-file batch must not flood a CI log).
PLAIN_LINE_INTERVAL = 2.0
PRINTED_RESULTS = 200
PRINTED_ERRORS = 20


async def _query(handle: WorkflowHandle[Any, Any]) -> BatchProgress | None:
    try:
        return await handle.query(BatchWorkflow.progress)
    except Exception:  # no worker answered yet, or the run is continuing as new: next tick
        return None


async def watch_batch(
    handle: WorkflowHandle[Any, Any], done: asyncio.Event, console: Console
) -> BatchProgress | None:
    """A progress bar on a terminal, a line every few seconds otherwise, until ``done`` is set."""
    last: BatchProgress | None = None
    if console.is_terminal:
        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("files {task.fields[note]}"),
            TimeElapsedColumn(),
            console=console,
        )
        task = bar.add_task("listing", total=None, note="")
        with bar:
            while True:
                seen = await _query(handle)
                if seen is not None:
                    last = seen
                    note = f"({seen.running} running, {seen.failed} failed)"
                    bar.update(
                        task,
                        description=seen.name,
                        total=seen.total or None,
                        completed=seen.completed + seen.failed,
                        note=note,
                    )
                if done.is_set():
                    return last
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(done.wait(), POLL_INTERVAL)
    printed = (-1, -1)
    next_line = 0.0
    while True:
        seen = await _query(handle)
        if seen is not None:
            last = seen
            counts = (seen.completed, seen.failed)
            listed = seen.total > 0 or done.is_set()
            if listed and counts != printed and (time.monotonic() >= next_line or done.is_set()):
                printed, next_line = counts, time.monotonic() + PLAIN_LINE_INTERVAL
                print(
                    f"[{seen.completed + seen.failed:,}/{seen.total:,}] files done, {seen.running} running, "
                    f"{seen.failed} failed",
                    file=sys.stderr,
                    flush=True,
                )
        if done.is_set():
            return last
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), POLL_INTERVAL)


def _show(value: Any, limit: int = 500) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f" ... ({len(text)} chars)"


def _print_result(out: Console, err: Console, result: BatchResult) -> None:
    if result.results:
        out.print("[bold]results[/]")
        for file, value in list(result.results.items())[:PRINTED_RESULTS]:
            out.print(f"  [cyan]{file}[/]: {_show(value)}", highlight=False)
        if len(result.results) > PRINTED_RESULTS:
            out.print(f"  ... {len(result.results) - PRINTED_RESULTS} more (--json prints every result)")
    if result.output_dir:
        out.print(f"results of every file: [bold]{result.output_dir}[/] (one <file>.json each)")
    for file, error in list(result.errors.items())[:PRINTED_ERRORS]:
        err.print(f"[yellow]file {file} failed:[/] {error}", highlight=False)
    for warning in result.warnings:
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    done = f"{result.completed:,} of {result.total:,} files done"
    if result.skipped_existing:
        done += f" ({result.skipped_existing:,} already done before)"
    if result.failed:
        done += f", {result.failed:,} failed"
    err.print(done)


async def run_batch_form(
    spec: WorkflowSpec,
    inputs: dict[str, Any],
    settings: Settings,
    *,
    as_json: bool,
    wait: bool,
    worker: WorkerMode,
    workflow_id: str | None,
    out: Console,
    err: Console,
) -> int:
    """Start (and by default follow) a batch-form workflow; returns the exit code."""
    source = spec.source_file or spec.name
    try:
        inp = batch_input_from_spec(spec, inputs, settings)
    except ValidationError as exc:
        err.print(f"[red]invalid workflow[/] {source}:")
        err.print(f"  {exc}", markup=False, highlight=False)
        return EXIT_INVALID
    need_llm = inp.method.startswith("llm/")
    async with LocalRuntime(settings, worker=worker if wait else "never", need_llm=need_llm) as rt:
        for note in rt.notes:
            err.print(f"[dim]{note}[/]")
        assert rt.client is not None
        handle = await start_batch(rt.client, inp, settings, workflow_id=workflow_id)
        url = web_url(settings, handle.id)
        if not await announce_start(rt, handle, "batch", url, wait=wait, as_json=as_json, out=out, err=err):
            return EXIT_OK
        try:
            async with watching(watch_batch, handle, err):
                result = await wait_batch(handle)
        except ValidationError as exc:
            err.print(f"[red]invalid batch[/] {source}: {exc}", highlight=False)
            return EXIT_INVALID
        except (ExecutionError, TimeoutError) as exc:
            err.print(f"[red]batch {handle.id} failed:[/] {exc}", highlight=False)
            err.print(f"  inspect: {url}")
            if as_json:
                print(json.dumps({"workflow_id": handle.id, "status": "failed", "error": str(exc)}))
            return EXIT_FAILED
    if as_json:
        print(result.model_dump_json(indent=2))
    else:
        _print_result(out, err, result)
        err.print(f"batch [bold]{handle.id}[/] {result.status}: {url}")
    if result.total == 0:
        return EXIT_INVALID  # as the expanded form did: a batch that matches no file is a mistake
    on_error = (spec.template or {}).get("on_error") or "fail"
    return EXIT_FAILED if result.failed and on_error != "continue" else EXIT_OK
