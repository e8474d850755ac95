"""`gleitzeit batch DIR`: a durable batch over the files of a directory, with a progress bar.

Prints ``file: answer`` lines (or JSON with --json); exit 1 when files failed, 2 for bad arguments.
"""

from __future__ import annotations

import json

import typer

from gleitzeit.cli.app import app
from gleitzeit.client.commands import EXIT_FAILED, EXIT_OK, MODE_OPTION, make_client, run_command
from gleitzeit.client.defaults import DEFAULT_BATCH_PROMPT, DEFAULT_CHAT_MODEL

__all__ = ["batch"]


@app.command()
def batch(
    directory: str = typer.Argument(..., help="directory with the files"),
    pattern: str = typer.Option("*", "--pattern", "-p", help="glob, e.g. '*.txt' or '**/*.md'"),
    prompt: str = typer.Option(DEFAULT_BATCH_PROMPT, "--prompt", help="what to do with each file"),
    model: str = typer.Option(DEFAULT_CHAT_MODEL, "--model", "-m", help="model name"),
    output_dir: str | None = typer.Option(None, "--output-dir", "-o", help="write <file>.json results here"),
    max_concurrent: int = typer.Option(5, "--max-concurrent"),
    max_tokens: int | None = typer.Option(None, "--max-tokens"),
    mode: str = MODE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="print {file: result} as JSON"),
) -> None:
    """Run a prompt over every matching file, durably."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from gleitzeit.client.handles import Progress as RunProgress
    from gleitzeit.contracts.batch import BatchProgress

    async def body() -> int:
        err = Console(stderr=True, soft_wrap=True)
        async with make_client(mode) as client:
            run = await client.start_batch(
                directory,
                pattern,
                prompt,
                model,
                max_concurrent,
                output_dir,
                max_tokens=max_tokens,
            )
            err.print(
                f"batch [bold]{run.workflow_id}[/] started" + (f": {run.web_url}" if run.web_url else "")
            )
            bar = Progress(
                TextColumn("[bold]batch"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[note]}"),
                TimeElapsedColumn(),
                console=err,
                disable=not err.is_terminal,
            )
            task = bar.add_task("batch", total=None, note="")

            def on_progress(p: RunProgress) -> None:
                if isinstance(p, BatchProgress):
                    failed = f"[red]{p.failed} failed[/]" if p.failed else ""
                    bar.update(task, total=p.total or None, completed=p.completed + p.failed, note=failed)
                    if not err.is_terminal:
                        err.print(f"[{p.completed + p.failed}/{p.total}] files done", highlight=False)

            with bar:
                execution = await run.result(on_progress=on_progress, max_interval=2.0)
            backend = client.backend
            assert backend is not None
            results = await backend.batch_results(execution)
        errors = {k: r.error for k, r in execution.results.items() if r.error}
        if as_json:
            print(json.dumps({"results": results, "errors": errors, "details": execution.details}, indent=2))
        else:
            out = Console(soft_wrap=True)
            for name, value in results.items():
                text = value if isinstance(value, str) else json.dumps(value)
                out.print(f"[cyan]{name}[/]: {text.strip()[:500]}", highlight=False)
            for name, error in errors.items():
                err.print(f"[red]{name} failed:[/] {error}", highlight=False)
            d = execution.details
            err.print(
                f"batch {execution.workflow_id}: {d.get('completed', len(results))} of {d.get('total', '?')} done"
                + (f", {d.get('failed')} failed" if d.get("failed") else "")
                + (f"; results in {d.get('output_dir')}" if d.get("output_dir") else "")
            )
        return EXIT_FAILED if errors else EXIT_OK

    raise typer.Exit(run_command(body))
