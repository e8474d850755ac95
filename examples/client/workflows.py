"""run_workflow from a file, from a dict, and with inputs (the reference's `run_workflow` section)."""

import asyncio

from gleitzeit import GleitzeitClient


async def main() -> None:
    async with GleitzeitClient() as client:
        # From file
        result = await client.run_workflow("pipeline.yaml")
        print("pipeline:", result["summary"]["response"], "| outputs:", result.outputs)

        # From dictionary
        workflow = {
            "name": "Test",
            "tasks": [
                {
                    "id": "task1",
                    "method": "llm/chat",
                    "parameters": {
                        "model": "smollm2:135m",
                        "messages": [{"role": "user", "content": "Hello"}],
                        "max_tokens": 16,
                    },
                }
            ],
        }
        result = await client.run_workflow(workflow)
        print("dict:", result["task1"]["response"])

        # With inputs
        result = await client.run_workflow("template.yaml", inputs={"topic": "AI", "length": 500})
        print("template:", result.outputs["text"])


if __name__ == "__main__":
    asyncio.run(main())
