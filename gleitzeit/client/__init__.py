"""The Gleitzeit client: ``GleitzeitClient`` (native / api / auto modes) and its run handles.

The names are imported on first access: the CLI's commands import ``gleitzeit.client.commands`` and
``gleitzeit.client.defaults`` at start, and must not pay for the client (temporalio, httpx, docker)
unless the command that runs uses it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gleitzeit.client.batch_results import BatchResults
    from gleitzeit.client.client import GleitzeitClient
    from gleitzeit.client.handles import WorkflowRun
    from gleitzeit.client.results import WorkflowResults

__all__ = ["BatchResults", "GleitzeitClient", "WorkflowResults", "WorkflowRun"]

_HOMES = {
    "BatchResults": "gleitzeit.client.batch_results",
    "GleitzeitClient": "gleitzeit.client.client",
    "WorkflowResults": "gleitzeit.client.results",
    "WorkflowRun": "gleitzeit.client.handles",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
