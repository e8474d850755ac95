"""What the OpenAI- and Ollama-shaped routes share: the token check, the body reader and the error
answer in the caller's shape (OpenAI's ``{"error": {message, type, code}}`` under ``/v1``, Ollama's
``{"error": "..."}`` under ``/api``)."""

from __future__ import annotations

import json
from typing import Any, TypeVar

import httpx
import pydantic
from fastapi import Request
from fastapi.responses import JSONResponse

from gleitzeit.api.auth import require_token
from gleitzeit.api.compat.calls import WORKFLOW_ID_HEADER, CompatError
from gleitzeit.api.deps import backend_of
from gleitzeit.core.errors import AuthenticationError, GleitzeitError

__all__ = [
    "OLLAMA_ERRORS",
    "OPENAI_ERRORS",
    "OllamaErrorBody",
    "OpenAIErrorBody",
    "compat_error_response",
    "compat_responses",
    "compat_token",
    "openapi_body",
    "llm_server_get",
    "parse_body",
    "read_json",
    "run_headers",
]

M = TypeVar("M", bound=pydantic.BaseModel)
LLM_SERVER_TIMEOUT = 10.0


class OpenAIErrorDetail(pydantic.BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIErrorBody(pydantic.BaseModel):
    """OpenAI's error answer (what its SDKs parse), for every error under ``/v1`` here."""

    error: OpenAIErrorDetail


class OllamaErrorBody(pydantic.BaseModel):
    """Ollama's error answer, for every error under ``/api``."""

    error: str


_DESCRIPTIONS = {
    400: "a body that is not JSON, a parameter the method refuses, an unsupported feature or header",
    401: "no token, or a wrong one",
    404: "the model is not on the LLM server",
    409: "the run was cancelled",
    422: "the body does not have the documented shape (each problem named)",
    500: "an unexpected error (logged by the server)",
    502: "the LLM call failed after its attempts",
    503: "the LLM server or Temporal is not reachable",
    504: "the call took longer than allowed",
}
# What a route that runs a call answers besides 200 (calls.py maps a failed run to these).
OPENAI_ERRORS = (400, 401, 404, 409, 422, 500, 502, 503, 504)
OLLAMA_ERRORS = (400, 401, 404, 409, 500, 502, 503, 504)


def openapi_body(model: type[pydantic.BaseModel]) -> dict[str, Any]:
    """A route's documented JSON body (``openapi_extra``), for routes that read the body themselves to
    answer errors in their API's shape. The nested models are written inline: the document's
    components do not hold them."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return inline(defs[ref.removeprefix("#/$defs/")])
            return {k: inline(v) for k, v in node.items()}
        if isinstance(node, list):
            return [inline(v) for v in node]
        return node

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}


def compat_responses(
    body: type[pydantic.BaseModel],
    *statuses: int,
    ok: tuple[str, ...] = ("application/json",),
    has_body: bool = True,
) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a compatible route: 200 in the ``ok`` media types (JSON, or a stream),
    each error status with the shape of the API it follows (``body``), and 413 for a route that takes
    a body (``has_body``)."""
    answers: dict[int | str, dict[str, Any]] = {
        200: {"description": "the answer", "content": {media: {} for media in ok}}
    }
    for status in statuses:
        answers[status] = {"model": body, "description": _DESCRIPTIONS.get(status, "error")}
    if has_body:  # the body limit answers before any route, in the caller's shape too (api.limits)
        answers[413] = {"model": body, "description": "a body over the API's limit"}
    return answers


def compat_error_response(request: Request, exc: CompatError) -> JSONResponse:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=headers)
    body = {"error": {"message": exc.message, "type": exc.kind, "param": None, "code": exc.code}}
    return JSONResponse(body, status_code=exc.status, headers=headers)


async def compat_token(request: Request) -> None:
    """The API's bearer token (as OpenAI's and Ollama's clients send a key); 401 in the caller's shape."""
    try:
        await require_token(request)
    except AuthenticationError as exc:
        raise CompatError(401, str(exc), code="invalid_api_key") from None


async def read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CompatError(400, f"the request body is not valid JSON: {exc}", code="invalid_json") from None
    if not isinstance(body, dict):
        raise CompatError(400, "the request body must be a JSON object", code="invalid_json")
    return body


def parse_body(model: type[M], body: dict[str, Any], status: int = 422) -> M:
    """``body`` as ``model``; every problem named (``messages.0.role: ...``) in one error."""
    try:
        return model.model_validate(body)
    except pydantic.ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'body'}: {e['msg']}" for e in exc.errors(include_url=False)
        )
        raise CompatError(status, f"invalid request: {problems}", code="invalid_request") from None


async def llm_server_get(request: Request, path: str, body: dict[str, Any] | None = None) -> Any:
    """A read-only answer of the LLM server (models, versions): not a run, nothing to retry."""
    backend = backend_of(request)
    try:
        await backend.ensure_llm()
    except GleitzeitError as exc:
        raise CompatError(503, str(exc), kind="server_error") from None
    url = backend.settings.ollama_host + path
    try:
        async with httpx.AsyncClient(timeout=LLM_SERVER_TIMEOUT) as http:
            answer = await (http.post(url, json=body) if body is not None else http.get(url))
    except httpx.HTTPError as exc:
        raise CompatError(
            503, f"the LLM server at {url} did not answer: {exc}", kind="server_error"
        ) from None
    try:
        data = answer.json()
    except ValueError:
        data = {}
    if answer.status_code >= 400:
        message = data.get("error") if isinstance(data, dict) else None
        raise CompatError(answer.status_code, str(message or answer.text[:200]), code="llm_server_error")
    return data


def run_headers(workflow_id: str) -> dict[str, str]:
    return {WORKFLOW_ID_HEADER: workflow_id}
