"""Shared dependencies of the routers: the backend every endpoint runs on, and the path guard."""

from __future__ import annotations

from fastapi import Request

from gleitzeit.api.paths import PathGuard
from gleitzeit.client.native import NativeBackend
from gleitzeit.config import Settings
from gleitzeit.core.errors import ServiceUnavailableError

__all__ = ["backend_of", "guard_of", "settings_of"]


def backend_of(request: Request) -> NativeBackend:
    backend: NativeBackend | None = getattr(request.app.state, "backend", None)
    if backend is None:
        raise ServiceUnavailableError("the server is still starting (Temporal and the worker come up first)")
    return backend


def guard_of(request: Request) -> PathGuard:
    guard: PathGuard = request.app.state.guard
    return guard


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings
