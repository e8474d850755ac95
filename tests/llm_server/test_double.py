"""OllamaDouble itself: canned answers, recorded requests and each kind of fault."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import ollama
import pytest

from tests.doubles.ollama_double import OllamaDouble
from tests.helpers import free_port

USER = [{"role": "user", "content": "ping one two"}]


@pytest.fixture
def double() -> Iterator[OllamaDouble]:
    with OllamaDouble() as d:
        yield d


def test_echoes_and_records(double: OllamaDouble) -> None:
    client = ollama.Client(host=double.url, timeout=10, headers={"X-Request-Id": "r1"})
    resp = client.chat(model="smollm2:135m", messages=USER, stream=False)
    assert resp.message.content == "echo: ping one two" and resp.done_reason == "stop"
    pieces = list(client.chat(model="smollm2", messages=USER, stream=True))
    assert "".join(p.message.content or "" for p in pieces) == "echo: ping one two"
    assert pieces[-1].done and pieces[-1].eval_count == 4
    assert client.generate(model="smollm2", prompt="hi").response == "echo: hi"
    assert len(client.embed(model="all-minilm", input=["a", "b"]).embeddings) == 2
    assert [m.model for m in client.list().models] == ["smollm2:135m", "all-minilm:latest"]
    chats = double.calls("/api/chat", contains="ping")
    assert len(chats) == 2 and chats[0].request_id == "r1"


def test_failures_then_success(double: OllamaDouble) -> None:
    double.fail(times=2, status=503, model="smollm2")
    client = ollama.Client(host=double.url, timeout=10)
    for _ in range(2):
        with pytest.raises(ollama.ResponseError) as info:
            client.chat(model="smollm2:135m", messages=USER)
        assert info.value.status_code == 503
    assert client.chat(model="smollm2:135m", messages=USER).message.content.startswith("echo")
    assert [r.faults for r in double.calls("/api/chat")] == [["fail"], ["fail"], []]


def test_dropped_connections(double: OllamaDouble) -> None:
    client = ollama.Client(host=double.url, timeout=10)
    double.drop(times=1, after_chunks=0)
    with pytest.raises(httpx.HTTPError):
        client.chat(model="smollm2", messages=USER)
    double.drop(times=1, after_chunks=2)
    with pytest.raises(httpx.HTTPError):
        list(client.chat(model="smollm2", messages=USER, stream=True))
    assert client.chat(model="smollm2", messages=USER).done  # faults used up


def test_unknown_model_and_not_found_fault(double: OllamaDouble) -> None:
    client = ollama.Client(host=double.url, timeout=10)
    with pytest.raises(ollama.ResponseError) as info:
        client.chat(model="llama3", messages=USER)
    assert info.value.status_code == 404 and "llama3" in info.value.error
    double.not_found("all-minilm", times=1)
    with pytest.raises(ollama.ResponseError) as info:
        client.embed(model="all-minilm", input="x")
    assert info.value.status_code == 404


def test_slow_stream_and_per_prompt_targeting(double: OllamaDouble) -> None:
    double.slow_stream(30, contains="slow")
    client = ollama.Client(host=double.url, timeout=10)
    arrivals = []
    for _ in client.generate(model="smollm2", prompt="slow a b c", stream=True):
        arrivals.append(time.perf_counter())
    assert arrivals[-1] - arrivals[0] > 0.05  # 5 pieces, 30 ms apart at least
    assert double.calls(contains="slow")[0].faults == ["slow_stream"]
    assert double.calls(contains="fast") == []


async def test_usable_from_async_tests() -> None:
    async with OllamaDouble(latency_ms=1) as double:
        client = ollama.AsyncClient(host=double.url, timeout=10)
        resp = await client.chat(model="smollm2", messages=USER)
        assert resp.message.content == "echo: ping one two"
        assert len(double.requests) == 1


def test_runs_as_a_subprocess() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.doubles.ollama_double", "--port", str(port), "--latency-ms", "5"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        assert "listening" in proc.stdout.readline().decode()
        url = f"http://127.0.0.1:{port}"
        httpx.post(f"{url}/_double/faults", json={"kind": "fail", "times": 1, "status": 500}, timeout=5)
        client = ollama.Client(host=url, timeout=10)
        with pytest.raises(ollama.ResponseError):
            client.chat(model="smollm2", messages=USER)
        assert client.chat(model="smollm2", messages=USER).done
        assert len(httpx.get(f"{url}/_double/requests", timeout=5).json()) == 2
        texts = httpx.get(f"{url}/_double/texts", timeout=5).json()
        assert [path for path, _ in texts] == ["/api/chat"] * 2 and texts[0][1] == texts[1][1]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
