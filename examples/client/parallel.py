"""Parallel execution (the reference's "Advanced Usage"): three durable chats at once."""

import asyncio

from gleitzeit import GleitzeitClient


async def parallel_processing() -> list[str]:
    async with GleitzeitClient() as client:
        tasks = [
            client.chat("Question 1", model="smollm2:135m", max_tokens=16),
            client.chat("Question 2", model="smollm2:135m", max_tokens=16),
            client.chat("Question 3", model="smollm2:135m", max_tokens=16),
        ]
        results = await asyncio.gather(*tasks)
        return results


if __name__ == "__main__":
    for answer in asyncio.run(parallel_processing()):
        print("-", answer)
