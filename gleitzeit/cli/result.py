"""`gleitzeit result ID`: wait for a run and print its outputs (or results); exit 1 if it failed."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer

from gleitzeit.cli.app import app
from gleitzeit.client.commands import EXIT_FAILED, EXIT_OK, MODE_OPTION, make_client, run_command
from gleitzeit.core.errors import ExecutionError, TimeoutError

if TYPE_CHECKING:
    from gleitzeit.contracts.dag import TaskProgress

__all__ = ["result"]


def _show(value: object, limit: int = 2000) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = text.strip()
    return text if len(text) <= limit else text[:limit] + f" ... ({len(text)} chars)"


def _waits_for(workflow_id: str, t: TaskProgress) -> str:
    if t.prompt is not None:
        return f"{t.prompt} (answer: gleitzeit approve {workflow_id} {t.task_id} [--reject])"
    return f"a timer until {t.until.isoformat(timespec='seconds')}" if t.until else "a timer"


@app.command()
def result(
    workflow_id: str = typer.Argument(..., help="the run's workflow id (see `gleitzeit list`)"),
    timeout: float | None = typer.Option(None, "--timeout", help="seconds to wait at most"),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="wait for a running run (default) or not"),
    mode: str = MODE_OPTION,
    as_json: bool = typer.Option(False, "--json", help="print the WorkflowExecution as JSON"),
) -> None:
    """Print the result of a run (waiting for it unless --no-wait)."""

    from rich.console import Console

    from gleitzeit.core.models import TaskStatus

    async def body() -> int:
        err = Console(stderr=True, soft_wrap=True)
        # --no-wait only looks: it starts no worker (that would run the run, not show it).
        async with make_client(mode, start_services=wait) as client:
            run = await client.get_workflow(workflow_id)
            try:
                execution = await run.result(timeout if wait else 0.001)
            except TimeoutError:
                waiting = await run.waiting_for_worker()
                # No worker, no answer to a query (it would block until Temporal's query timeout).
                held = await run.waiting_tasks() if waiting is None else []
                err.print(f"workflow {workflow_id} is still running ({run.web_url or ''})")
                if waiting:
                    err.print(f"[yellow]waiting:[/] {waiting}", highlight=False)
                for t in held:  # timers and approvals: what each waits for, how to answer
                    err.print(
                        f"[yellow]waiting:[/] task {t.task_id}: {_waits_for(workflow_id, t)}", highlight=False
                    )
                if as_json:
                    still = {"workflow_id": workflow_id, "status": "running"}
                    tasks = [t.model_dump(mode="json", exclude_none=True) for t in held]
                    print(
                        json.dumps(
                            {
                                **still,
                                "waiting_for_worker": waiting is not None,
                                "message": waiting,
                                "waiting": tasks,
                            }
                        )
                    )
                return EXIT_FAILED
            except ExecutionError as exc:
                err.print(f"[red]workflow {workflow_id} failed:[/] {exc}", highlight=False)
                if as_json:
                    print(json.dumps({"workflow_id": workflow_id, "status": "failed", "error": str(exc)}))
                return EXIT_FAILED
        if as_json:
            print(execution.model_dump_json(indent=2))
            return EXIT_OK
        out = Console(soft_wrap=True)
        if execution.outputs:
            out.print("[bold]outputs[/]")
            for name, value in execution.outputs.items():
                out.print(f"  [cyan]{name}[/]: {_show(value)}", highlight=False)
        else:
            out.print("[bold]results[/]")
            for task_id, r in execution.results.items():
                shown = (
                    _show(r.response)
                    if r.status == TaskStatus.COMPLETED
                    else f"[{r.status.value}] {r.error or ''}"
                )
                out.print(f"  [cyan]{task_id}[/]: {shown}", highlight=False)
        err.print(f"workflow [bold]{workflow_id}[/] {execution.status.value}")
        return EXIT_OK

    raise typer.Exit(run_command(body))
