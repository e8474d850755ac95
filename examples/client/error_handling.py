"""Error handling (the reference's "Error Handling"): every error is a gleitzeit.core.errors class."""

import asyncio

from gleitzeit import GleitzeitClient
from gleitzeit.core.errors import GleitzeitError, TaskExecutionError, TimeoutError, ValidationError


async def safe_execution() -> None:
    async with GleitzeitClient() as client:
        try:
            result = await client.run_workflow("workflow.yaml")
            print("total:", result["total"]["result"])
        except ValidationError as e:
            print(f"Invalid workflow: {e}")
        except TaskExecutionError as e:
            print(f"Task failed: {e}")
        except TimeoutError as e:
            print(f"Operation timed out: {e}")
        except GleitzeitError as e:
            print(f"General error: {e}")

        # The same handlers catch a broken workflow and a failing task:
        try:
            await client.run_workflow({"name": "broken", "tasks": [{"id": "a", "method": "llm/chatt"}]})
        except ValidationError as e:
            print(f"Invalid workflow: {e}")
        try:
            await client.execute_task(
                {"id": "boom", "method": "python/execute", "parameters": {"code": "1/0"}}
            )
        except TaskExecutionError as e:
            print(f"Task failed: {e.task_id} after {e.attempts} attempt(s)")


if __name__ == "__main__":
    asyncio.run(safe_execution())
