"""The reference's "Complete Example": status, batch summaries, a chat over them, a script saving a report."""

import asyncio
import logging

from gleitzeit import GleitzeitClient

logging.basicConfig(level=logging.INFO)


async def document_pipeline():
    """Process documents through analysis pipeline"""

    async with GleitzeitClient() as client:
        # Check system status
        status = await client.get_status()
        if not status["ollama"]["available"]:
            raise RuntimeError("Ollama not available")

        # Batch process documents
        summaries = await client.batch_process(
            directory="documents",
            pattern="*.txt",
            prompt="Summarize in 3 sentences",
            model="smollm2:135m",
            max_concurrent=5,
            max_tokens=48,
        )

        # Analyze summaries
        analysis = await client.chat(
            f"Identify common themes in: {list(summaries.values())}", model="smollm2:135m", max_tokens=48
        )

        # Save results
        result = await client.execute_python_script(
            "save_results.py", args={"summaries": summaries, "analysis": analysis, "output": "report.json"}
        )

        return result


if __name__ == "__main__":
    result = asyncio.run(document_pipeline())
    print(f"Pipeline complete: {result}")
