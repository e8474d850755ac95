"""list_models and get_status (the reference's utility methods)."""

import asyncio

from gleitzeit import GleitzeitClient


async def main() -> None:
    async with GleitzeitClient() as client:
        models = await client.list_models()
        print(models)  # ["smollm2:135m", "all-minilm:latest", ...]

        status = await client.get_status()
        print(status["ollama"]["available"])  # True/False
        print("mode:", status["mode"], "temporal:", status["temporal"]["available"])


if __name__ == "__main__":
    asyncio.run(main())
