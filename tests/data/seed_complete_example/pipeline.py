"""The seed client reference's "Complete Example", as written there, on the embedded model.

Only the model differs (``llama3.2`` -> ``smollm2:135m``, the model the embedded LLM server has) and
the answers are kept short (``max_tokens``) so the test stays quick.
"""

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
            max_tokens=32,
        )

        # Analyze summaries
        analysis = await client.chat(
            f"Identify common themes in: {list(summaries.values())}", model="smollm2:135m", max_tokens=32
        )

        # Save results
        result = await client.execute_python_script(
            "save_results.py", args={"summaries": summaries, "analysis": analysis, "output": "report.json"}
        )

        return result


if __name__ == "__main__":
    result = asyncio.run(document_pipeline())
    print(f"Pipeline complete: {result}")
