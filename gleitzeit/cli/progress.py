"""Live progress of a run: a rich progress bar and task table on a terminal, plain lines otherwise;
and ``announce_start``, the line every run command prints when its run started."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from rich.console import Console, Group
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from temporalio.client import WorkflowHandle

from gleitzeit.contracts.dag import TaskProgress, WorkflowProgress
from gleitzeit.workflows.dag import DagWorkflow

if TYPE_CHECKING:
    from gleitzeit.services.runtime import LocalRuntime

__all__ = ["STATE_STYLE", "announce_start", "print_changes", "task_note", "watch_progress", "watching"]

STATE_STYLE = {
    "pending": ("·", "dim"),
    "running": ("▶", "cyan"),
    "waiting": ("⏸", "yellow"),
    "completed": ("✓", "green"),
    "failed": ("✗", "red"),
    "skipped": ("↷", "yellow"),
    "cancelled": ("■", "magenta"),
}
POLL_INTERVAL = 0.4


def task_note(progress: WorkflowProgress, t: TaskProgress) -> str:
    """What a task's row says: its error or reason; for a waiting task what it waits for (and for an
    approval the command that answers it)."""
    if t.state == "waiting":
        if t.prompt is not None:
            return f"{t.prompt} (answer: gleitzeit approve {progress.workflow_id} {t.task_id} [--reject])"
        if t.until is not None:
            return f"until {t.until.isoformat(timespec='seconds')}"
    return t.error or t.reason or ""


async def _query(handle: WorkflowHandle[Any, Any]) -> WorkflowProgress | None:
    try:
        return await handle.query(DagWorkflow.progress)
    except Exception:  # no worker answered yet, or the run just closed: try again next tick
        return None


def _table(progress: WorkflowProgress, limit: int = 25) -> Table:
    table = Table(show_header=True, header_style="bold", box=None, pad_edge=False)
    table.add_column("")
    table.add_column("task")
    table.add_column("method", style="dim")
    table.add_column("state")
    table.add_column("note", overflow="fold")
    rows = progress.tasks
    # On big runs show what is moving: running and failed first, then the rest in order.
    if len(rows) > limit:
        rank = {"waiting": 0, "running": 0, "failed": 1, "pending": 3}
        rows = sorted(rows, key=lambda t: rank.get(t.state, 2))[:limit]
    for t in rows:
        icon, style = STATE_STYLE.get(t.state, ("?", ""))
        note = task_note(progress, t) or ("carried over" if t.origin == "carried" else "")
        if t.items is not None:  # a foreach task: how far its items got
            note = f"{t.items_completed or 0}/{t.items} items" + (f"; {note}" if note else "")
        table.add_row(f"[{style}]{icon}[/]", t.task_id, t.method, f"[{style}]{t.state}[/]", note[:200])
    if len(progress.tasks) > limit:
        table.add_row("", f"... {len(progress.tasks) - limit} more", "", "", "")
    return table


async def watch_progress(
    handle: WorkflowHandle[Any, Any], done: asyncio.Event, console: Console | None = None
) -> WorkflowProgress | None:
    """Show progress until ``done`` is set; returns the last progress seen."""
    console = console or Console(stderr=True)
    last: WorkflowProgress | None = None
    if console.is_terminal:
        bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("tasks"),
            TimeElapsedColumn(),
            console=console,
        )
        bar_id = bar.add_task("starting", total=None)
        with Live(Group(bar), console=console, refresh_per_second=8, transient=False) as live:
            while not done.is_set():
                seen = await _query(handle)
                if seen is not None:
                    last = seen
                    finished = seen.completed + seen.failed + seen.skipped
                    bar.update(bar_id, description=seen.name, total=seen.total, completed=finished)
                    live.update(Group(bar, _table(seen)))
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(done.wait(), POLL_INTERVAL)
            final = await _query(handle)
            if final is not None:
                last = final
                bar.update(
                    bar_id, total=final.total, completed=final.completed + final.failed + final.skipped
                )
                live.update(Group(bar, _table(final)))
        return last

    # Not a terminal (CI logs, pipes): one line per task state change.
    states: dict[str, str] = {}
    while True:
        seen = await _query(handle)
        if seen is not None:
            last = seen
            for t in seen.tasks:
                if states.get(t.task_id) != t.state and t.state != "pending":
                    states[t.task_id] = t.state
                    note = f" ({task_note(seen, t)})" if task_note(seen, t) else ""
                    finished = seen.completed + seen.failed + seen.skipped
                    print(
                        f"[{finished}/{seen.total}] {t.task_id}: {t.state}{note}", file=sys.stderr, flush=True
                    )
        if done.is_set():
            return last
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(done.wait(), POLL_INTERVAL)


def print_changes(console: Console) -> Callable[[Any], None]:
    """An ``on_progress`` callback for a run handle: one line per task state change, carried tasks
    of a resumed run said as such (``completed (carried)``)."""
    states: dict[str, str] = {}

    def show(seen: Any) -> None:
        if not isinstance(seen, WorkflowProgress):
            return
        finished = seen.completed + seen.failed + seen.skipped
        for t in seen.tasks:
            state = f"{t.state} (carried)" if t.origin == "carried" else t.state
            if states.get(t.task_id) != state and t.state != "pending":
                states[t.task_id] = state
                note = f" ({task_note(seen, t)})" if task_note(seen, t) else ""
                console.print(
                    f"[{finished}/{seen.total}] {t.task_id}: {state}{note}", highlight=False, markup=False
                )

    return show


@contextlib.asynccontextmanager
async def watching(
    watch: Callable[[WorkflowHandle[Any, Any], asyncio.Event, Console], Coroutine[Any, Any, Any]],
    handle: WorkflowHandle[Any, Any],
    console: Console,
) -> AsyncIterator[None]:
    """Show ``watch``'s live progress while the body waits for the run; the last frame is drawn
    before the body's report (success or failure) is printed after the block."""
    done = asyncio.Event()
    task = asyncio.create_task(watch(handle, done, console))
    try:
        yield
    finally:
        done.set()
        await task


async def announce_start(
    rt: LocalRuntime,
    handle: Any,
    kind: str,
    url: str,
    *,
    wait: bool,
    as_json: bool,
    out: Console,
    err: Console,
) -> bool:
    """Say a run started (with its web-UI link); make sure a worker picks it up, or say it waits.

    Returns False for ``--no-wait``, after printing the id (or JSON) the caller's script needs.
    """
    err.print(f"{kind} [bold]{handle.id}[/] started: {url}")
    if wait and rt.waiting is None and await rt.ensure_progress(handle):
        err.print(f"[dim]{rt.notes[-1]}[/]")
    if rt.waiting is not None:
        # Never a silent wait: the run stays scheduled until a worker polls its task queue.
        err.print(f"[yellow]waiting:[/] {rt.waiting}", highlight=False)
    if wait:
        return True
    if as_json:
        print(json.dumps({"workflow_id": handle.id, "run_id": handle.result_run_id, "url": url}))
    else:
        out.print(handle.id)
    return False
