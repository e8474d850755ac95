"""`gleitzeit files upload|list|get`: upload files for pipelines, list and download what a run wrote."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from gleitzeit.cli.app import app
from gleitzeit.client.commands import EXIT_OK, MODE_OPTION, make_client, run_command

__all__ = ["files_app"]

files_app = typer.Typer(
    help="Upload files for pipelines; list and download the files a run wrote.", no_args_is_help=True
)
app.add_typer(files_app, name="files")

JSON_OPTION = typer.Option(False, "--json", help="print the answer as JSON")


@files_app.command("upload")
def upload(
    paths: list[Path] = typer.Argument(..., help="files to upload (all or none are stored)"),
    mode: str = MODE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Store files where pipelines can read them; prints each one's id and path (use it with -i)."""

    async def body() -> int:
        # Nothing to start: api mode sends the files, native mode copies them into the data dir.
        async with make_client(mode, start_services=False) as client:
            stored = await client.upload_files(paths)
        if as_json:
            print(json.dumps([f.model_dump(mode="json") for f in stored], indent=2))
            return EXIT_OK
        for f in stored:
            print(f"{f.name}\t{f.size}\t{f.id[:12]}\t{f.path}")
        return EXIT_OK

    raise typer.Exit(run_command(body))


@files_app.command("list")
def list_files(
    workflow_id: str = typer.Argument(..., help="the run's workflow id (see `gleitzeit list`)"),
    mode: str = MODE_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List the files a run wrote to its outputs directories."""
    from rich.console import Console

    async def body() -> int:
        async with make_client(mode, start_services=False) as client:
            found = await client.list_run_files(workflow_id)
        if as_json:
            print(found.model_dump_json(indent=2))
            return EXIT_OK
        if not found.directories:
            Console(stderr=True).print(f"run {workflow_id} declares no outputs directory")
        for f in found.files:
            print(f"{f.path}\t{f.size}\t{f.task_id}")
        return EXIT_OK

    raise typer.Exit(run_command(body))


@files_app.command("get")
def get(
    workflow_id: str = typer.Argument(..., help="the run's workflow id"),
    path: str = typer.Argument(
        ..., help="the file, relative to the outputs directory (as `files list` shows)"
    ),
    output: Path | None = typer.Option(
        None, "--output", "-o", help="file or directory to save to (default: the current directory)"
    ),
    task: str | None = typer.Option(None, "--task", help="the task whose outputs directory to use"),
    mode: str = MODE_OPTION,
) -> None:
    """Download one file a run wrote."""
    from rich.console import Console

    async def body() -> int:
        async with make_client(mode, start_services=False) as client:
            saved = await client.download(workflow_id, path, output, task=task)
        Console(stderr=True).print(f"saved {saved}", highlight=False)
        return EXIT_OK

    raise typer.Exit(run_command(body))
