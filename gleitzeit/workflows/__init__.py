"""The generic workflows. Deterministic code only: no I/O, clock, randomness or set iteration.

The workflow classes are imported lazily (PEP 562). Temporal's sandbox re-imports a workflow's module,
with its parent packages, for every new run: an eager ``from .batch import BatchWorkflow`` here made
every DagWorkflow run re-execute batch.py as well (a few ms of each run's first workflow task).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gleitzeit.workflows.batch import BatchWorkflow
    from gleitzeit.workflows.dag import DagWorkflow

__all__ = ["WORKFLOWS", "BatchWorkflow", "DagWorkflow"]

_CLASSES = {"DagWorkflow": "gleitzeit.workflows.dag", "BatchWorkflow": "gleitzeit.workflows.batch"}


def __getattr__(name: str) -> Any:
    if name in _CLASSES:
        return getattr(importlib.import_module(_CLASSES[name]), name)
    if name == "WORKFLOWS":
        # Every workflow class a worker registers.
        return tuple(__getattr__(n) for n in _CLASSES)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
