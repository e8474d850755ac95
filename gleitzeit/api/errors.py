"""Every failure of the REST API answers ``{"error": {"type", "message", ...}}`` with a fitting status.

``GleitzeitError`` subclasses keep their class name and attributes (see ``gleitzeit.client.wire``),
request-shape errors become ``ValidationError`` with one problem per field, a path outside the roots
is 403, and nothing ever answers with a traceback.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.routing import Match

from gleitzeit.api.paths import PathForbidden
from gleitzeit.client.wire import error_to_dict, http_status
from gleitzeit.core.errors import AuthenticationError, GleitzeitError

__all__ = ["BODY_ERRORS", "COMMON_ERRORS", "error_response", "error_responses", "install_error_handlers"]

log = logging.getLogger(__name__)

_TYPE_OF_STATUS = {
    401: "AuthenticationError",
    404: "NotFoundError",
    405: "APIError",
    413: "PayloadTooLargeError",
}


_DESCRIPTIONS = {
    400: "a body that is not the JSON (or form) it claims to be",
    401: "no token, or a wrong one",
    403: "a path outside the server's file roots, or leaving its directory",
    404: "no such run, file, upload, directory or model",
    409: "the run is in the wrong state (e.g. resuming one that still runs)",
    413: "a body or file over its size limit",
    422: "invalid request (each problem named)",
    424: "a task or the run failed (task_id, attempts, cause)",
    500: "an unexpected error (logged by the server; never a traceback)",
    503: "Temporal, the LLM server or Docker is not reachable",
    504: "waiting for the run (or the LLM) took longer than allowed",
}

# Every /v1 route can answer these (auth, parameters, a bug, a service down); routes with a body also
# BODY_ERRORS. Each route adds its own (404, 403, 424, 504) in its ``responses=``.
COMMON_ERRORS = (401, 422, 500, 503)
BODY_ERRORS = (400, 413)


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses=`` of a route, so the OpenAPI document lists its error answers and their schema."""
    from gleitzeit.api.schemas import ErrorBody

    return {s: {"model": ErrorBody, "description": _DESCRIPTIONS.get(s, "error")} for s in statuses}


# The methods a route of this API may have (HEAD comes with GET).
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _allowed_methods(request: Request) -> str:
    """Every method some route of this path answers (RFC 9110 ``Allow``). The framework names only the
    first matching route's, and GET and POST of one path are two routes here; each method is tried
    on every route (``matches`` is FULL only for a route that has both the path and the method)."""
    routes = request.app.router.routes
    methods = {
        m for m in _METHODS if any(r.matches({**request.scope, "method": m})[0] == Match.FULL for r in routes)
    }
    if "GET" in methods:
        methods.add("HEAD")
    return ", ".join(sorted(methods))


def error_response(status: int, error: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": error}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(GleitzeitError)
    async def _gleitzeit(request: Request, exc: GleitzeitError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
        return error_response(http_status(exc), error_to_dict(exc), headers)

    @app.exception_handler(PathForbidden)
    async def _forbidden(request: Request, exc: PathForbidden) -> JSONResponse:
        return error_response(403, {"type": "PermissionDeniedError", "message": str(exc), "status_code": 403})

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for e in exc.errors():
            loc = [str(p) for p in e.get("loc", ()) if p != "body"]
            problems.append(
                {"message": str(e.get("msg")), "key": ".".join(loc) or None, "code": str(e.get("type"))}
            )
        message = "invalid request: " + "; ".join(
            f"{p['key']}: {p['message']}" if p["key"] else str(p["message"]) for p in problems
        )
        return error_response(422, {"type": "ValidationError", "message": message, "problems": problems})

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        kind = _TYPE_OF_STATUS.get(exc.status_code, "APIError")
        headers = dict(getattr(exc, "headers", None) or {})
        if exc.status_code == 405:
            headers["Allow"] = _allowed_methods(request)
        return error_response(
            exc.status_code,
            {"type": kind, "message": str(exc.detail), "status_code": exc.status_code},
            headers or None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error in %s %s", request.method, request.url.path)
        return error_response(
            500,
            {
                "type": "APIError",
                "message": f"internal error: {type(exc).__name__}: {exc}",
                "status_code": 500,
            },
        )
