"""Bearer-token authentication of the REST API (on when ``settings.api_token`` is set)."""

from __future__ import annotations

import secrets

from fastapi import Request

from gleitzeit.core.errors import AuthenticationError

__all__ = ["require_token"]


async def require_token(request: Request) -> None:
    """Refuse the request unless it carries ``Authorization: Bearer <settings.api_token>``."""
    token: str | None = request.app.state.settings.api_token
    if not token:
        return
    header = request.headers.get("authorization", "")
    scheme, _, given = header.partition(" ")
    if not header:
        raise AuthenticationError("this API needs a token: send 'Authorization: Bearer <token>'")
    if scheme.lower() != "bearer" or not secrets.compare_digest(given.strip().encode(), token.encode()):
        raise AuthenticationError("the API token is wrong (send 'Authorization: Bearer <token>')")
