"""batch_process over a directory (the reference's `batch_process` section)."""

import asyncio

from gleitzeit import GleitzeitClient


async def main() -> None:
    async with GleitzeitClient() as client:
        # Process text files
        results = await client.batch_process(
            directory="documents",
            pattern="*.txt",
            prompt="Summarize this document",
            model="smollm2:135m",
            max_tokens=32,
        )
        for name, summary in results.items():
            print(f"{name}: {summary}")

        # Recursive with output
        results = await client.batch_process(
            directory="data",
            pattern="**/*.json",
            prompt="Extract key metrics",
            output_dir="summaries",
            max_concurrent=10,
            max_tokens=32,
        )
        print("recursive:", sorted(results), "written to summaries/")


if __name__ == "__main__":
    asyncio.run(main())
