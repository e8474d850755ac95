"""execute_task and execute_python_script (the reference's sections of the same names)."""

import asyncio

from gleitzeit import GleitzeitClient


async def main() -> None:
    async with GleitzeitClient() as client:
        task = {
            "id": "analyze",
            "method": "llm/chat",
            "parameters": {
                "model": "smollm2:135m",
                "messages": [{"role": "user", "content": "Analyze this"}],
                "max_tokens": 32,
            },
        }
        result = await client.execute_task(task)
        print(result.response)

        result = await client.execute_python_script(
            "process_data.py", args={"input": "data.csv", "output": "results.json"}, timeout=60
        )
        print(result)


if __name__ == "__main__":
    asyncio.run(main())
