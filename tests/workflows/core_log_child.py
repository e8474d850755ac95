"""Child process of test_poison: a workflow task fails (a bug), so the SDK core logs a warning.

Run as ``python -m tests.workflows.core_log_child ADDRESS``; with gleitzeit's ``forward_core_logs``
the core's line must land on stderr and stdout must stay empty.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from datetime import timedelta

from temporalio import workflow
from temporalio.client import Client
from temporalio.worker import UnsandboxedWorkflowRunner, Worker

from gleitzeit.services.connection import forward_core_logs


@workflow.defn
class Broken:
    @workflow.run
    async def run(self) -> None:
        raise RuntimeError("a bug in the workflow")  # not an input failure type: the task fails


async def main(address: str) -> None:
    forward_core_logs()
    client = await Client.connect(address)
    queue = f"corelog-{uuid.uuid4()}"
    async with Worker(
        client, task_queue=queue, workflows=[Broken], workflow_runner=UnsandboxedWorkflowRunner()
    ):
        handle = await client.start_workflow(
            Broken.run, id=queue, task_queue=queue, execution_timeout=timedelta(seconds=2)
        )
        try:
            await handle.result()
        except Exception as exc:  # the run times out after its failed workflow tasks
            print(f"run ended: {type(exc).__name__}", file=sys.stderr)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
