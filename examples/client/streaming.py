"""Streaming responses (the reference's "Streaming Responses"). Streaming is not durable: see docs."""

import asyncio

from gleitzeit import GleitzeitClient


async def stream_chat() -> None:
    async with GleitzeitClient() as client:
        # Check if streaming is supported
        if hasattr(client, "chat_stream"):
            async for chunk in client.chat_stream("Tell a story", max_tokens=48):
                print(chunk, end="", flush=True)
            print()


if __name__ == "__main__":
    asyncio.run(stream_chat())
