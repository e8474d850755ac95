"""Custom configuration and type hints (the reference's "Custom Configuration" and "Type Hints")."""

import asyncio
from typing import Any

from gleitzeit import GleitzeitClient
from gleitzeit.core.models import TaskResult


async def typed_example() -> dict[str, TaskResult]:
    client: GleitzeitClient
    async with GleitzeitClient() as client:
        result: dict[str, Any] = await client.run_workflow("workflow.yaml")
        response: str = await client.chat("Hello", model="smollm2:135m", max_tokens=16)
        print("typed:", result["total"]["result"], "|", response)
        return result


async def main() -> None:
    # Native mode with resource management (Temporal's task queues do the managing)
    client = GleitzeitClient(
        mode="native",
        native_config={"enable_resource_management": True, "max_parallel_tasks": 10, "default_timeout": 60},
    )
    print("native client configured:", client.settings.max_parallel, client.settings.llm_timeout)

    # API mode with custom endpoint
    client = GleitzeitClient(
        mode="api",
        api_host="gleitzeit.example.com",
        api_port=443,
        auto_start_server=False,  # Don't try to start remote server
    )
    print("api client would talk to:", client.api_url)

    await typed_example()


if __name__ == "__main__":
    asyncio.run(main())
