"""The llm.* activities against the OllamaDouble (faults) and the real embedded LLM server."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from gleitzeit.activities.llm import LlmActivities
from gleitzeit.config import Settings
from gleitzeit.contracts.tasks import TaskInput
from tests.doubles.ollama_double import OllamaDouble

# A ceiling, not a figure: the first LLM test of a session also starts the session's LLM server (and,
# on a fresh machine, converts the embedding model once), which under a loaded CI run came near 60 s.
pytestmark = pytest.mark.timeout(180)


@pytest.fixture
def double() -> Iterator[OllamaDouble]:
    with OllamaDouble() as d:
        yield d


def acts_for(url: str) -> LlmActivities:
    return LlmActivities(Settings(ollama_host=url, llm_timeout=10))


def task(method: str = "llm/chat", **params: Any) -> TaskInput:
    params.setdefault("model", "smollm2:135m")
    return TaskInput(workflow_id="wf-1", task_id="t1", method=method, parameters=params)


async def run(fn: Any, inp: TaskInput) -> Any:
    return await ActivityEnvironment().run(fn, inp)


def chat(**params: Any) -> TaskInput:
    params.setdefault("messages", [{"role": "user", "content": "hello there"}])
    return task(**params)


async def test_chat_returns_response_model_and_counts(double: OllamaDouble) -> None:
    result = await run(acts_for(double.url).chat, chat(temperature=0.1, max_tokens=5))
    assert "hello there" in result["response"]
    assert result["model"].startswith("smollm2")
    assert result["tokens_used"] > 0
    (req,) = double.requests
    assert req.path == "/api/chat"
    assert req.body is not None and req.body["options"] == {"temperature": 0.1, "num_predict": 5}
    assert req.request_id == "wf-1/t1/1"  # lets the server's request log count calls per task


async def test_calls_in_flight_get_a_connection_each_and_keep_it(double: OllamaDouble) -> None:
    # One client per call in flight (httpx's pool scans every connection on each request, so one
    # shared pool of 20 connections cost a batch ~30 % of its CPU); clients and their connections are
    # kept for the next calls.
    acts = acts_for(double.url)
    double.latency(50)

    async def five() -> None:
        results = await asyncio.gather(*(run(acts.chat, chat()) for _ in range(5)))
        assert all("hello there" in r["response"] for r in results)

    await five()
    assert double.connections == 5
    await five()
    await run(acts.embed, task("llm/embed", input="one"))
    assert double.connections == 5
    assert len(double.requests) == 11


async def test_server_error_is_retryable(double: OllamaDouble) -> None:
    double.fail(times=1, status=503)
    with pytest.raises(ApplicationError) as info:
        await run(acts_for(double.url).chat, chat())
    assert info.value.type == "LLMServerError" and not info.value.non_retryable


async def test_unknown_model_fails_without_retry(double: OllamaDouble) -> None:
    with pytest.raises(ApplicationError) as info:
        await run(acts_for(double.url).chat, chat(model="no-such-model"))
    assert info.value.type == "ModelNotFound" and info.value.non_retryable
    assert "no-such-model" in info.value.message


async def test_dropped_connection_is_retryable(double: OllamaDouble) -> None:
    double.drop(times=1, after_chunks=1)
    with pytest.raises(ApplicationError) as info:
        await run(acts_for(double.url).chat, chat())
    assert not info.value.non_retryable


async def test_connection_refused_is_retryable() -> None:
    with pytest.raises(ApplicationError) as info:
        await run(acts_for("http://127.0.0.1:9").chat, chat())
    assert info.value.type == "LLMUnavailable" and not info.value.non_retryable


async def test_file_path_text_goes_before_the_last_user_message(double: OllamaDouble, tmp_path: Path) -> None:
    (tmp_path / "doc.txt").write_text("THE FILE TEXT")
    inp = chat(file_path="doc.txt", messages=[{"role": "user", "content": "summarise"}])
    inp.base_dir = str(tmp_path)
    await run(acts_for(double.url).chat, inp)
    body = double.requests[0].body
    assert body is not None
    assert body["messages"][-1]["content"] == "THE FILE TEXT\n\nsummarise"


async def test_missing_file_is_bad_input(double: OllamaDouble, tmp_path: Path) -> None:
    inp = chat(file_path="missing.txt")
    inp.base_dir = str(tmp_path)
    with pytest.raises(ApplicationError) as info:
        await run(acts_for(double.url).chat, inp)
    assert info.value.type == "FileNotFound" and info.value.non_retryable
    assert "missing.txt" in info.value.message
    assert double.requests == []


async def test_vision_sends_the_encoded_image(double: OllamaDouble, tmp_path: Path) -> None:
    (tmp_path / "pic.png").write_bytes(b"\x89PNG fake")
    inp = task("llm/vision", prompt="what is this?", image_path=str(tmp_path / "pic.png"))
    result = await run(acts_for(double.url).vision, inp)
    body = double.requests[0].body
    assert body is not None
    assert body["messages"][-1]["images"] == [base64.b64encode(b"\x89PNG fake").decode()]
    assert result["images_analyzed"] == [str(tmp_path / "pic.png")]


async def test_generate_and_system_prompt(double: OllamaDouble) -> None:
    result = await run(
        acts_for(double.url).generate, task("llm/generate", prompt="complete me", system="sys")
    )
    assert "complete me" in result["response"]
    body = double.requests[0].body
    assert body is not None and body["system"] == "sys"


async def test_json_format_is_parsed(double: OllamaDouble) -> None:
    payload = json.dumps({"answer": 42})
    result = await run(
        acts_for(double.url).chat, chat(format="json", messages=[{"role": "user", "content": payload}])
    )
    # The double answers a format request with a JSON document wrapping the echo.
    assert result["parsed"] == {"echo": payload}
    assert json.loads(result["response"]) == result["parsed"]


async def test_embed_single_and_many(double: OllamaDouble) -> None:
    acts = acts_for(double.url)
    one = await run(acts.embed, task("llm/embed", model="all-minilm", input="a sentence"))
    many = await run(acts.embed, task("llm/embed", model="all-minilm", input=["a", "b"]))
    assert len(one["embeddings"]) == 1 and one["embedding"] == one["embeddings"][0]
    assert len(many["embeddings"]) == 2


async def test_oversized_result_is_refused(double: OllamaDouble) -> None:
    acts = LlmActivities(Settings(ollama_host=double.url, max_result_bytes=100))
    with pytest.raises(ApplicationError) as info:
        await run(acts.chat, chat(messages=[{"role": "user", "content": "x" * 500}]))
    assert info.value.type == "ResultTooLarge" and info.value.non_retryable


@pytest.mark.llm
async def test_real_server_chat_json_and_embed(llm_server: Any) -> None:
    acts = acts_for(llm_server.url)
    answer = await run(acts.chat, chat(max_tokens=12, temperature=0))
    assert answer["response"].strip() and answer["tokens_used"] > 0
    structured = await run(
        acts.chat,
        chat(
            max_tokens=40,
            format={"type": "object", "properties": {"colour": {"type": "string"}}, "required": ["colour"]},
            messages=[{"role": "user", "content": "Name a colour as JSON."}],
        ),
    )
    assert isinstance(structured["parsed"], dict) and "colour" in structured["parsed"]
    emb = await run(acts.embed, task("llm/embed", model="all-minilm", input="durable pipelines"))
    assert len(emb["embedding"]) == 384


@pytest.mark.llm
async def test_a_missing_model_names_the_models_there_and_the_alias(llm_server: Any) -> None:
    with pytest.raises(ApplicationError) as info:
        await run(acts_for(llm_server.url).chat, chat(model="llama3.2", max_tokens=4))
    error = info.value
    assert error.type == "ModelNotFound" and error.non_retryable
    assert f"model 'llama3.2' not found on the LLM server at {llm_server.url}; it has: " in error.message
    assert "smollm2:135m" in error.message and "all-minilm" in error.message
    assert 'GLEITZEIT_MODEL_ALIASES="llama3.2=smollm2:135m"' in error.message
    with pytest.raises(ApplicationError) as embed:
        await run(acts_for(llm_server.url).embed, task("llm/embed", model="mxbai-embed-large", input="x"))
    assert 'GLEITZEIT_MODEL_ALIASES="mxbai-embed-large=all-minilm"' in embed.value.message


@pytest.mark.llm
async def test_an_alias_sends_the_request_to_the_aliased_model(llm_server: Any) -> None:
    settings = Settings(
        ollama_host=llm_server.url, llm_timeout=30, model_aliases={"llama3.2": "smollm2:135m"}
    )
    acts = LlmActivities(settings)
    answer = await run(acts.chat, chat(model="llama3.2:latest", max_tokens=4, temperature=0))
    assert answer["model"] == "smollm2:135m" and answer["response"].strip()
    broken = LlmActivities(settings.model_copy(update={"model_aliases": {"llama3.2": "nope:1b"}}))
    with pytest.raises(ApplicationError) as info:
        await run(broken.chat, chat(model="llama3.2", max_tokens=4))
    assert (
        "model 'nope:1b' (the alias of 'llama3.2' in GLEITZEIT_MODEL_ALIASES) not found" in info.value.message
    )
