"""Chat, as in the reference's `chat` and `chat_messages` sections (model renamed to the embedded one)."""

import asyncio

from gleitzeit import GleitzeitClient

MODEL = "smollm2:135m"  # the reference uses "llama3.2" / "mistral"


async def main() -> None:
    async with GleitzeitClient() as client:
        # Simple chat ("llama3.2", the default, falls back to the server's default model)
        response = await client.chat("What is Python?", max_tokens=32)
        print("chat:", response)

        # With configuration
        response = await client.chat(
            "Write a poem", model=MODEL, temperature=0.9, system="You are a creative poet", max_tokens=32
        )
        print("poem:", response)

        messages = [
            {"role": "system", "content": "You are helpful"},
            {"role": "user", "content": "What is AI?"},
            {"role": "assistant", "content": "AI is..."},
            {"role": "user", "content": "Tell me more"},
        ]
        response = await client.chat_messages(messages, model=MODEL, max_tokens=32)
        print("chat_messages:", response)


if __name__ == "__main__":
    asyncio.run(main())
