"""History of a resumed run vs a fresh one: a 1,000-task fan-out resumed after 600 tasks.

``python -m bench.resume [--n 1000] [--done 600]``. The fresh run does every task; the resumed run
carries ``done`` results in its input (``DagInput.carried``) and runs the rest, as ``gleitzeit resume``
does. Prints one row: events and bytes of each history. Activities are the no-op double of
``python.execute`` (the figure is about the history, not the work).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter

from bench.common import bench_server
from bench.engine import fanout_spec, noop_python
from gleitzeit.client.starter import start_pipeline, wait_result
from gleitzeit.worker.build import build_worker

__all__ = ["history_size", "measure_resume"]


async def history_size(handle: WorkflowHandle[Any, Any]) -> tuple[int, int]:
    """(events, bytes) of a closed run's history."""
    history = await handle.fetch_history()
    return len(history.events), len(history.to_json().encode())


async def measure_resume(n: int = 1000, done: int = 600, cap: int = 50) -> dict[str, Any]:
    with bench_server() as server:
        settings = server.settings
        client = await Client.connect(settings.temporal_address, data_converter=pydantic_data_converter)
        spec = fanout_spec(n, cap)
        async with build_worker(client, settings, activities=[noop_python]):
            fresh = await start_pipeline(client, spec, {}, settings)
            result = await wait_result(fresh)
            carried = {f"t{i}": result.results[f"t{i}"] for i in range(done)}
            resumed = await start_pipeline(
                client,
                spec,
                {},
                settings,
                carried=carried,
                resumed_from=fresh.id,
                workflow_id=f"{fresh.id}-resume-1",
            )
            again = await wait_result(resumed)
        assert again.status == "completed"
        fresh_events, fresh_bytes = await history_size(fresh)
        resumed_events, resumed_bytes = await history_size(resumed)
    return {
        "tasks": n,
        "carried": done,
        "fresh_events": fresh_events,
        "fresh_bytes": fresh_bytes,
        "resumed_events": resumed_events,
        "resumed_bytes": resumed_bytes,
        "events_ratio": round(resumed_events / fresh_events, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=1000)
    parser.add_argument("--done", type=int, default=600)
    args = parser.parse_args()
    row = asyncio.run(measure_resume(args.n, args.done))
    print(json.dumps(row))


if __name__ == "__main__":
    main()
