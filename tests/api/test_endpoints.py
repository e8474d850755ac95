"""The REST API over HTTP on loopback: auth on every endpoint, bad input, limits and path confinement.

Uses the session stack of tests/fixtures/client.py (its API requires a token).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tests.fixtures.client import ClientStack

pytestmark = [pytest.mark.temporal, pytest.mark.timeout(120)]

# (method, path, body) of every protected endpoint, with a body that would be valid.
ENDPOINTS: list[tuple[str, str, Any]] = [
    (
        "POST",
        "/v1/workflows",
        {
            "yaml": "name: x\ntasks:\n  - id: a\n    method: python/execute\n    parameters: {code: 'print(1)'}\n"
        },
    ),
    ("GET", "/v1/workflows", None),
    ("GET", "/v1/workflows/some-id", None),
    ("GET", "/v1/workflows/some-id/progress", None),
    ("GET", "/v1/workflows/some-id/result", None),
    ("POST", "/v1/workflows/some-id/cancel", None),
    ("GET", "/v1/workflows/some-id/logs", None),
    ("POST", "/v1/chat", {"prompt": "hi", "max_tokens": 4}),
    ("POST", "/v1/chat/stream", {"prompt": "hi", "max_tokens": 4}),
    ("GET", "/v1/models", None),
    ("GET", "/v1/status", None),
    ("POST", "/v1/batch", {"directory": "."}),
    ("GET", "/v1/batch/some-id/results", None),
    (
        "POST",
        "/v1/tasks",
        {"task": {"id": "t", "method": "python/execute", "parameters": {"code": "print(1)"}}},
    ),
    ("POST", "/v1/scripts", {"script": "x.py"}),
    ("POST", "/v1/files", None),
    ("GET", "/v1/files/0123abcd", None),
    ("GET", "/v1/workflows/some-id/files", None),
    ("GET", "/v1/workflows/some-id/files/out.txt", None),
]
# POST /v1/files streams under its own limits (tests/api/test_files.py), not the 1 MiB body limit.
POSTS = [e for e in ENDPOINTS if e[0] == "POST" and e[1] != "/v1/files"]
ID_ENDPOINTS = [e for e in ENDPOINTS if "some-id" in e[1]]
WITH_BODY = [e for e in POSTS if e[2] is not None]


@pytest.fixture
async def http(client_stack: ClientStack) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {client_stack.token}"}
    async with httpx.AsyncClient(base_url=client_stack.api_url, headers=headers, timeout=60) as c:
        yield c


@pytest.fixture
async def anonymous(client_stack: ClientStack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=client_stack.api_url, timeout=60) as c:
        yield c


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert "error" in body, body
    return dict(body["error"])


@pytest.mark.parametrize(("method", "path", "body"), ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ENDPOINTS])
@pytest.mark.parametrize("token", [None, "wrong-token", "Basic abc"])
async def test_every_endpoint_needs_the_token(
    anonymous: httpx.AsyncClient, method: str, path: str, body: Any, token: str | None
) -> None:
    headers = {}
    if token == "Basic abc":
        headers["Authorization"] = token
    elif token:
        headers["Authorization"] = f"Bearer {token}"
    response = await anonymous.request(method, path, json=body, headers=headers)
    assert response.status_code == 401, response.text
    assert error_of(response)["type"] == "AuthenticationError"
    assert response.headers.get("www-authenticate") == "Bearer"


async def test_health_and_docs_are_public(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/v1/health")).json()["status"] == "ok"
    spec = (await anonymous.get("/openapi.json")).json()
    assert "/v1/workflows/{workflow_id}/result" in spec["paths"]
    assert (await anonymous.get("/docs")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "body"), ID_ENDPOINTS, ids=[f"{m} {p}" for m, p, _ in ID_ENDPOINTS]
)
async def test_unknown_workflow_id_is_404(http: httpx.AsyncClient, method: str, path: str, body: Any) -> None:
    response = await http.request(method, path.replace("some-id", "no-such-run"), json=body)
    assert response.status_code == 404, response.text
    assert error_of(response)["type"] == "WorkflowNotFoundError"


@pytest.mark.parametrize(("method", "path", "body"), WITH_BODY, ids=[f"{m} {p}" for m, p, _ in WITH_BODY])
async def test_malformed_bodies_are_422(http: httpx.AsyncClient, method: str, path: str, body: Any) -> None:
    for bad in ([1, 2], {"unexpected_key": 1}, "not json"):
        if isinstance(bad, str):
            response = await http.request(
                method, path, content=bad, headers={"content-type": "application/json"}
            )
        else:
            response = await http.request(method, path, json=bad)
        assert response.status_code == 422, (bad, response.text)
        assert error_of(response)["type"] == "ValidationError"


@pytest.mark.parametrize(("method", "path", "body"), POSTS, ids=[f"{m} {p}" for m, p, _ in POSTS])
async def test_oversized_bodies_are_413(http: httpx.AsyncClient, method: str, path: str, body: Any) -> None:
    big = json.dumps({"yaml": "x" * (1024 * 1024 + 10)})
    response = await http.request(method, path, content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert "larger than" in error_of(response)["message"]


async def test_oversized_chunked_body_is_413(http: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"yaml": "'
        for _ in range(40):
            yield b"x" * 32768
        yield b'"}'

    response = await http.post(
        "/v1/workflows", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_invalid_yaml_is_422_with_line(http: httpx.AsyncClient) -> None:
    response = await http.post(
        "/v1/workflows",
        json={
            "yaml": "name: bad\ntasks:\n  - id: a\n    method: llm/chat\n    parameters: [\n",
            "filename": "bad.yaml",
        },
    )
    assert response.status_code == 422
    problem = error_of(response)["problems"][0]
    assert problem["file"] == "bad.yaml" and problem["line"] >= 5 and problem["code"] == "yaml-syntax"
    response = await http.post(
        "/v1/workflows", json={"spec": {"name": "x", "tasks": [{"id": "a", "method": "llm/chatt"}]}}
    )
    assert response.status_code == 422
    problem = error_of(response)["problems"][0]
    assert problem["task"] == "a" and problem["key"] == "method" and problem["hint"]


async def test_exactly_one_workflow_source(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/workflows", json={})
    assert response.status_code == 422
    response = await http.post("/v1/workflows", json={"yaml": "name: a", "spec": {"name": "a"}})
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/v1/workflows", {"path": "/etc/hostname"}),
        ("/v1/workflows", {"path": "../../outside.yaml"}),
        (
            "/v1/workflows",
            {
                "spec": {
                    "name": "x",
                    "tasks": [
                        {
                            "id": "a",
                            "method": "llm/chat",
                            "parameters": {"model": "m", "prompt": "p", "file_path": "/etc/passwd"},
                        }
                    ],
                }
            },
        ),
        (
            "/v1/workflows",
            {
                "yaml": "name: b\ntype: batch\nbatch: {directory: /etc, pattern: '*'}\ntemplate: {method: llm/chat, parameters: {model: m, prompt: p}}\n"
            },
        ),
        ("/v1/batch", {"directory": "/etc"}),
        ("/v1/batch", {"directory": ".", "output_dir": "/tmp/elsewhere"}),
        ("/v1/scripts", {"script": "/etc/passwd"}),
        (
            "/v1/tasks",
            {"task": {"id": "t", "method": "python/execute", "parameters": {"file": "/etc/passwd"}}},
        ),
    ],
)
async def test_paths_outside_the_roots_are_403(http: httpx.AsyncClient, path: str, body: Any) -> None:
    response = await http.post(path, json=body)
    assert response.status_code == 403, response.text
    assert "outside the directories" in error_of(response)["message"]


async def test_a_path_built_at_run_time_outside_the_roots_fails_its_task(http: httpx.AsyncClient) -> None:
    # Only known once the run resolves ${inputs.p}: the worker refuses it where it opens the file.
    yaml = (
        "name: late\ninputs:\n  p: {type: string}\ntasks:\n  - id: read\n    method: llm/chat\n"
        "    parameters: {model: m, prompt: p, file_path: '${inputs.p}'}\n"
    )
    response = await http.post(
        "/v1/workflows", json={"yaml": yaml, "inputs": {"p": "/etc/passwd"}, "wait": True}
    )
    assert response.status_code == 424, response.text
    error = error_of(response)
    assert (error["task_id"], error["cause_type"], error["attempts"]) == ("read", "PermissionDenied", 1)
    assert "/etc/passwd" in error["message"] and "outside the file roots" in error["message"]


async def test_a_method_the_path_lacks_is_405_with_allow(http: httpx.AsyncClient) -> None:
    for method, path, allowed in (
        ("TRACE", "/v1/workflows", {"GET", "POST"}),
        ("PUT", "/v1/health", {"GET"}),
    ):
        response = await http.request(method, path)
        assert response.status_code == 405, response.text
        assert allowed <= {m.strip() for m in response.headers["allow"].split(",")}


async def test_start_poll_progress_logs_and_result(http: httpx.AsyncClient) -> None:
    yaml = (
        "name: api run\ntasks:\n  - id: a\n    method: python/execute\n    parameters: {code: 'print(5)'}\n"
    )
    started = await http.post("/v1/workflows", json={"yaml": yaml})
    assert started.status_code == 201
    wid = started.json()["workflow_id"]
    result = await http.get(f"/v1/workflows/{wid}/result", params={"wait": 30})
    assert result.status_code == 200 and result.json()["results"]["a"]["result"]["result"] == 5
    assert (await http.get(f"/v1/workflows/{wid}")).json()["status"] == "completed"
    progress = (await http.get(f"/v1/workflows/{wid}/progress")).json()
    assert progress["kind"] == "workflow" and progress["progress"]["completed"] == 1
    logs = (await http.get(f"/v1/workflows/{wid}/logs")).json()
    assert any(e["event"] == "task_completed" and e["task_id"] == "a" for e in logs)
    waited = await http.post("/v1/workflows", json={"yaml": yaml, "wait": True})
    assert waited.status_code == 200 and waited.json()["status"] == "completed"


async def test_failed_run_answers_424_with_the_task(http: httpx.AsyncClient) -> None:
    yaml = "name: f\ntasks:\n  - id: boom\n    method: python/execute\n    parameters: {code: 'raise SystemExit(2)'}\n"
    response = await http.post("/v1/workflows", json={"yaml": yaml, "wait": True})
    assert response.status_code == 424
    error = error_of(response)
    assert error["type"] == "TaskExecutionError" and error["task_id"] == "boom"


async def test_running_result_is_202(http: httpx.AsyncClient) -> None:
    yaml = "name: slow\ntasks:\n  - id: s\n    method: python/execute\n    parameters: {code: 'import time; time.sleep(30)', timeout: 60}\n"
    wid = (await http.post("/v1/workflows", json={"yaml": yaml})).json()["workflow_id"]
    response = await http.get(f"/v1/workflows/{wid}/result", params={"wait": 0.2})
    assert response.status_code == 202 and response.json()["status"] == "running"
    cancelled = await http.post(f"/v1/workflows/{wid}/cancel")
    assert cancelled.status_code == 202


@pytest.mark.llm
async def test_chat_stream_is_ndjson(http: httpx.AsyncClient) -> None:
    lines = []
    async with http.stream(
        "POST", "/v1/chat/stream", json={"prompt": "Tell a story", "max_tokens": 8}
    ) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.strip():
                lines.append(json.loads(line))
    assert lines[-1]["done"] is True and any("chunk" in x for x in lines)
    response = await http.post("/v1/chat/stream", json={"prompt": "hi", "model": "no-such-model:1b"})
    assert response.status_code == 404 and error_of(response)["type"] == "ModelNotFoundError"


@pytest.mark.llm
async def test_chat_needs_prompt_or_messages(http: httpx.AsyncClient) -> None:
    response = await http.post("/v1/chat", json={"model": "smollm2:135m"})
    assert response.status_code == 422


async def test_list_and_status(http: httpx.AsyncClient) -> None:
    assert isinstance((await http.get("/v1/workflows", params={"limit": 5})).json(), list)
    assert (await http.get("/v1/workflows", params={"limit": 0})).status_code == 422
    status = (await http.get("/v1/status")).json()
    assert status["api"]["auth"] is True and status["temporal"]["available"] is True
