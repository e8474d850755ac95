"""The Temporal worker: `gleitzeit worker`, or in-process under `gleitzeit run` / `gleitzeit dev`.

``build_worker`` and ``task_activities`` are imported on first access: the client's connection imports
``gleitzeit.worker.telemetry``, and a run handed to a worker that is already polling must not pay for
every activity's imports (ollama, docker, the executors) that building a worker needs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gleitzeit.worker.build import build_worker, task_activities

__all__ = ["build_worker", "task_activities"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module("gleitzeit.worker.build"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
