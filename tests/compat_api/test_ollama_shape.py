"""The official ``ollama`` package against ``gleitzeit serve``'s ``/api/*`` routes, and retries inside
a compatible call's run (an LLM double that fails twice)."""

from __future__ import annotations

import uuid

import httpx
import ollama
import pytest
from temporalio.testing import WorkflowEnvironment

from gleitzeit.api.app import create_app
from gleitzeit.client.native import NativeBackend
from gleitzeit.config import Settings
from tests.doubles.ollama_double import OllamaDouble
from tests.fixtures.client import ClientStack

pytestmark = [pytest.mark.temporal, pytest.mark.llm, pytest.mark.timeout(180)]

MODEL = "smollm2:135m"
HEADER = "X-Gleitzeit-Workflow-Id"


def client(stack: ClientStack, token: str | None = None) -> ollama.AsyncClient:
    return ollama.AsyncClient(
        host=stack.api_url, timeout=60, headers={"Authorization": f"Bearer {token or stack.token}"}
    )


async def test_chat_and_generate_streamed_and_whole(client_stack: ClientStack) -> None:
    c = client(client_stack)
    whole = await c.chat(
        model=MODEL,
        messages=[{"role": "user", "content": "Say hi."}],
        options={"num_predict": 4},
        stream=False,
    )
    assert whole.done and whole.message.content and (whole.eval_count or 0) > 0
    pieces = [
        p
        async for p in await c.chat(
            model=MODEL,
            messages=[{"role": "user", "content": "Count."}],
            options={"num_predict": 6},
            stream=True,
        )
    ]
    assert pieces[-1].done and pieces[-1].done_reason in ("stop", "length")
    assert sum(1 for p in pieces if p.message.content) > 1
    generated = await c.generate(model=MODEL, prompt="The sky is", options={"num_predict": 4}, stream=False)
    assert generated.done and generated.response
    streamed = [
        p
        async for p in await c.generate(
            model=MODEL, prompt="One, two,", options={"num_predict": 4}, stream=True
        )
    ]
    assert streamed[-1].done and "".join(p.response for p in streamed)


async def test_embeddings_and_model_routes(client_stack: ClientStack) -> None:
    c = client(client_stack)
    embedded = await c.embed(model="all-minilm", input=["a", "b"])
    assert len(embedded.embeddings) == 2 and len(embedded.embeddings[0]) == 384
    legacy = await c.embeddings(model="all-minilm", prompt="a")
    assert len(legacy.embedding) == 384
    assert MODEL in [m.model for m in (await c.list()).models]
    assert "completion" in ((await c.show(MODEL)).capabilities or [])
    assert (await c.ps()).models is not None
    async with httpx.AsyncClient(base_url=client_stack.api_url, timeout=30) as http:
        headers = {"Authorization": f"Bearer {client_stack.token}"}
        assert (await http.get("/api/version", headers=headers)).json()["version"]
        chat = await http.post(
            "/api/chat",
            headers=headers,
            json={
                "model": MODEL,
                "messages": [{"role": "user", "content": "hi"}],
                "stream": False,
                "options": {"num_predict": 4},
            },
        )
        assert chat.headers[HEADER]
        # Errors in Ollama's shape: a plain string.
        wrong = await http.get("/api/tags", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and isinstance(wrong.json()["error"], str)
        bad = await http.post("/api/chat", headers=headers, content=b"{")
        assert bad.status_code == 400 and isinstance(bad.json()["error"], str)
        huge = await http.post("/api/generate", headers=headers, content=b"x" * (2 * 1024 * 1024))
        assert huge.status_code == 413 and isinstance(huge.json()["error"], str)
    with pytest.raises(ollama.ResponseError) as missing:
        await c.chat(model="no-such-model:1b", messages=[{"role": "user", "content": "hi"}], stream=False)
    assert missing.value.status_code == 404 and "no-such-model" in missing.value.error


async def test_an_llm_failing_twice_is_retried_inside_the_run(
    local_env: WorkflowEnvironment, tmp_path: object
) -> None:
    async with OllamaDouble() as double:
        double.fail(times=2, status=503, path="/api/chat")
        settings = Settings(
            temporal_address=local_env.client.service_client.config.target_host,
            task_queue=f"compat-{uuid.uuid4().hex[:8]}",
            ollama_host=double.url,
            auto_start_llm=False,
            auto_start_temporal=False,
            data_dir=tmp_path,  # type: ignore[arg-type]
        )
        backend = NativeBackend(settings, worker="always")
        await backend.start()
        try:
            app = create_app(settings, backend=backend)
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://api", timeout=60
            ) as http:
                answer = await http.post(
                    "/v1/chat/completions",
                    json={"model": MODEL, "messages": [{"role": "user", "content": "echo me"}]},
                    headers={"X-Gleitzeit-Retry": "3"},
                )
            assert answer.status_code == 200, answer.text
            assert "echo me" in answer.json()["choices"][0]["message"]["content"]
            assert len(double.calls(path="/api/chat")) == 3  # two failures, then the answer
            # All three attempts were one run's (each LLM request carries workflow/task/attempt).
            ids = {r.request_id.rsplit("/", 1)[0] for r in double.calls(path="/api/chat") if r.request_id}
            assert ids == {f"{answer.headers[HEADER]}/call"}
        finally:
            await backend.close()
