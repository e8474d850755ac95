"""The official ``openai`` package against ``gleitzeit serve``: every call a durable run.

One session stack (tests/fixtures/client.py): the Temporal dev server, the embedded LLM server, the
REST API on loopback. Answers are tiny (max_tokens 8-24): the tests check shapes and runs, not wisdom.
"""

from __future__ import annotations

import json
import subprocess
import uuid

import httpx
import openai
import pytest

from gleitzeit.core.models import WorkflowStatus
from gleitzeit.services.temporal_dev import find_temporal_binary
from tests.fixtures.client import ClientStack
from tests.helpers import until

pytestmark = [pytest.mark.temporal, pytest.mark.llm, pytest.mark.timeout(180)]

MODEL = "smollm2:135m"
HEADER = "X-Gleitzeit-Workflow-Id"


def oai(stack: ClientStack, key: str | None = None) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=stack.api_url + "/v1", api_key=key or stack.token, max_retries=0)


async def test_chat_completion_is_a_run_named_in_the_header(client_stack: ClientStack) -> None:
    raw = await oai(client_stack).chat.completions.with_raw_response.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hello."}], max_tokens=8
    )
    answer = raw.parse()
    assert answer.object == "chat.completion"
    assert answer.choices[0].message.role == "assistant" and answer.choices[0].message.content
    assert answer.choices[0].finish_reason in ("stop", "length")
    assert answer.usage is not None and answer.usage.completion_tokens > 0 and answer.usage.prompt_tokens > 0
    workflow_id = raw.headers[HEADER]
    # The run is in Temporal (what the web UI shows): found by the temporal CLI, summary names the call.
    temporal = find_temporal_binary()
    described = subprocess.run(
        [
            temporal,
            "workflow",
            "describe",
            "-w",
            workflow_id,
            "--output",
            "json",
            "--address",
            client_stack.settings.temporal_address,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    info = json.loads(described.stdout)
    assert info["workflowExecutionInfo"]["status"] == "WORKFLOW_EXECUTION_STATUS_COMPLETED"
    assert "POST /v1/chat/completions smollm2:135m" in described.stdout


async def test_stream_sends_chunks_usage_and_done(client_stack: ClientStack) -> None:
    stream = await oai(client_stack).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Count to five."}],
        max_tokens=16,
        stream=True,
        stream_options={"include_usage": True},
    )
    texts, finish, usage = [], None, None
    async for chunk in stream:
        if chunk.usage:
            usage = chunk.usage
        for choice in chunk.choices:
            texts.append(choice.delta.content or "")
            finish = choice.finish_reason or finish
    assert sum(1 for t in texts if t) > 1  # token by token, not one piece at the end
    assert finish in ("stop", "length")
    assert usage is not None and usage.completion_tokens > 0
    # The run recorded the whole answer the client saw.
    run = await client_stack.native.get_workflow(stream.response.headers[HEADER])
    execution = await run.result()
    assert execution.results["call"].result["response"] == "".join(texts)


async def test_completions_embeddings_and_models(client_stack: ClientStack) -> None:
    client = oai(client_stack)
    done = await client.completions.create(model=MODEL, prompt="The sky is", max_tokens=8)
    assert done.object == "text_completion" and done.choices[0].text
    # The openai package asks for base64 by default and decodes it.
    vectors = await client.embeddings.create(model="all-minilm", input=["one text", "another"])
    assert [d.index for d in vectors.data] == [0, 1]
    assert len(vectors.data[0].embedding) == 384
    as_floats = await client.embeddings.create(model="all-minilm", input="one text", encoding_format="float")
    assert as_floats.data[0].embedding == pytest.approx(vectors.data[0].embedding, abs=1e-6)
    models = [m.id async for m in client.models.list()]
    assert MODEL in models


async def test_json_mode(client_stack: ClientStack) -> None:
    answer = await oai(client_stack).chat.completions.create(
        model=MODEL,
        messages=[{"role": "user", "content": "Give a JSON object with a key 'n' holding a number."}],
        response_format={
            "type": "json_schema",
            "json_schema": {
                "name": "n",
                "schema": {"type": "object", "properties": {"n": {"type": "integer"}}, "required": ["n"]},
            },
        },
        max_tokens=24,
    )
    assert isinstance(json.loads(answer.choices[0].message.content or "")["n"], int)


async def test_errors_come_in_openai_shape(client_stack: ClientStack) -> None:
    with pytest.raises(openai.AuthenticationError) as wrong:
        await oai(client_stack, key="wrong-key").chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "hi"}]
        )
    assert wrong.value.status_code == 401 and "token" in wrong.value.message
    with pytest.raises(openai.NotFoundError) as missing:
        await oai(client_stack).chat.completions.create(
            model="no-such-model:1b", messages=[{"role": "user", "content": "hi"}], max_tokens=4
        )
    assert "no-such-model:1b" in missing.value.message
    assert missing.value.code == "model_not_found"
    headers = {"Authorization": f"Bearer {client_stack.token}", "Content-Type": "application/json"}
    async with httpx.AsyncClient(base_url=client_stack.api_url, headers=headers, timeout=30) as http:
        bad = await http.post("/v1/chat/completions", content=b"{not json")
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_json"
        shapeless = await http.post("/v1/chat/completions", json={"model": MODEL, "messages": []})
        assert shapeless.status_code == 422 and "messages" in shapeless.json()["error"]["message"]
        huge = await http.post("/v1/chat/completions", content=b"x" * (2 * 1024 * 1024))
        assert huge.status_code == 413 and huge.json()["error"]["code"] == "request_too_large"


async def test_an_idempotency_key_sent_twice_gives_one_run(client_stack: ClientStack) -> None:
    key = uuid.uuid4().hex
    client = oai(client_stack)
    before = len(client_stack.llm.requests())
    answers = [
        await client.chat.completions.with_raw_response.create(
            model=MODEL,
            messages=[{"role": "user", "content": "Name a colour."}],
            max_tokens=8,
            temperature=1.0,
            extra_headers={"Idempotency-Key": key},
        )
        for _ in range(2)
    ]
    assert answers[0].headers[HEADER] == answers[1].headers[HEADER]
    texts = [a.parse().choices[0].message.content for a in answers]
    assert texts[0] == texts[1]
    calls = [r for r in client_stack.llm.requests()[before:] if r.get("path") == "/api/chat"]
    assert len(calls) == 1


async def test_a_stream_the_client_leaves_ends_its_run(client_stack: ClientStack) -> None:
    headers = {"Authorization": f"Bearer {client_stack.token}"}
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Write a long story."}],
        "max_tokens": 400,
        "stream": True,
    }
    async with httpx.AsyncClient(base_url=client_stack.api_url, headers=headers, timeout=60) as http:
        async with http.stream("POST", "/v1/chat/completions", json=body) as response:
            workflow_id = response.headers[HEADER]
            async for _ in response.aiter_lines():
                break  # one event, then hang up
    run = await client_stack.native.get_workflow(workflow_id)

    async def ended() -> bool:
        return await run.status() == WorkflowStatus.CANCELLED

    await until(ended, "the run of the abandoned stream was cancelled", timeout=30)
