"""llm/* tasks with ``provider: openai`` against llama.cpp's own OpenAI-compatible server, through the
official ``openai`` package on the worker: set in the pipeline's ``providers:`` block, on a task, and
through the client."""

from __future__ import annotations

from typing import Any

import pytest

from gleitzeit import TaskExecutionError
from tests.fixtures.client import ClientStack

pytestmark = [pytest.mark.temporal, pytest.mark.llm, pytest.mark.timeout(180)]


async def test_a_pipeline_on_an_openai_compatible_server(
    client_stack: ClientStack, openai_server_url: str
) -> None:
    before = len(client_stack.llm.requests())
    pipeline: dict[str, Any] = {
        "name": "via openai",
        "providers": {"default": "openai", "openai": {"base_url": openai_server_url}},
        "tasks": [
            {
                "id": "ask",
                "method": "llm/chat",
                "parameters": {"model": "smollm2", "prompt": "Say hi.", "max_tokens": 8},
            },
            {
                "id": "go_on",
                "method": "llm/generate",
                "parameters": {"model": "smollm2", "prompt": "Go on: ${ask.response}", "max_tokens": 8},
            },
            {
                "id": "as_json",
                "method": "llm/chat",
                "parameters": {
                    "model": "smollm2",
                    "prompt": "A JSON object with key a.",
                    "max_tokens": 24,
                    "format": {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
                },
            },
        ],
    }
    results = await client_stack.native.run_workflow(pipeline)
    assert results["ask"]["response"] and results["ask"]["tokens_used"] > 0
    assert results["go_on"]["response"]
    assert isinstance(results["as_json"]["parsed"]["a"], int)
    # None of it went to the Ollama-API server.
    assert not [
        r for r in client_stack.llm.requests()[before:] if r.get("path") in ("/api/chat", "/api/generate")
    ]


async def test_the_client_and_a_task_name_the_provider(
    client_stack: ClientStack, openai_server_url: str
) -> None:
    answer = await client_stack.native.chat(
        "Say hi.", model="smollm2", max_tokens=8, provider="openai", base_url=openai_server_url
    )
    assert answer
    with pytest.raises(TaskExecutionError) as missing_key:
        await client_stack.native.run_workflow(
            {
                "name": "keyless",
                "tasks": [
                    {
                        "id": "a",
                        "method": "llm/chat",
                        "parameters": {
                            "model": "smollm2",
                            "prompt": "hi",
                            "provider": "openai",
                            "base_url": openai_server_url,
                            "api_key_env": "GLEITZEIT_TEST_NO_SUCH_KEY",
                        },
                    }
                ],
            }
        )
    assert "GLEITZEIT_TEST_NO_SUCH_KEY" in str(missing_key.value)
    assert missing_key.value.attempts == 1  # a configuration mistake is not retried
