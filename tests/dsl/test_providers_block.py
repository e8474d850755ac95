"""The pipeline's ``providers:`` block: the provider and OpenAI-compatible server of its llm/* tasks."""

from __future__ import annotations

import pytest

from gleitzeit.core.errors import ValidationError
from gleitzeit.dsl import load_workflow

URL = "http://127.0.0.1:8080/v1"


def test_the_block_reaches_llm_tasks_that_set_nothing() -> None:
    spec = load_workflow(
        {
            "name": "p",
            "providers": {"default": "openai", "openai": {"base_url": URL, "api_key_env": "MY_KEY"}},
            "tasks": [
                {"id": "a", "method": "llm/chat", "parameters": {"model": "m", "prompt": "hi"}},
                {
                    "id": "b",
                    "method": "llm/embed",
                    "parameters": {"model": "e", "input": "x", "provider": "ollama"},
                },
                {
                    "id": "c",
                    "method": "llm/chat",
                    "parameters": {"model": "m", "prompt": "hi", "base_url": "http://o/v1"},
                },
            ],
        }
    )
    a, b, c = (spec.task(t).parameters for t in "abc")
    assert (a["provider"], a["base_url"], a["api_key_env"]) == ("openai", URL, "MY_KEY")
    assert b["provider"] == "ollama" and "base_url" not in b
    assert c["base_url"] == "http://o/v1"  # the task's own wins


def test_the_originals_forms_stay_metadata() -> None:
    spec = load_workflow(
        {
            "name": "p",
            "providers": ["ollama"],
            "tasks": [{"id": "a", "method": "llm/chat", "parameters": {"model": "m", "prompt": "hi"}}],
        }
    )
    assert "provider" not in spec.task("a").parameters


def test_a_broken_block_is_located() -> None:
    with pytest.raises(ValidationError) as bad:
        load_workflow(
            {
                "name": "p",
                "providers": {"default": "openia", "openai": {"base_url": 3, "key": "x"}},
                "tasks": [
                    {
                        "id": "a",
                        "method": "llm/chat",
                        "parameters": {"model": "m", "prompt": "hi", "provider": "vllm"},
                    }
                ],
            }
        )
    text = str(bad.value)
    for part in (
        "providers.default",
        "openai",
        "providers.openai.base_url",
        "providers.openai.key",
        "provider",
    ):
        assert part in text
