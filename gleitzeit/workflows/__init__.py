"""The generic DAG workflow. Deterministic code only: no I/O, clock, randomness or set iteration.

BatchWorkflow lives with the rest of the batch feature in ``gleitzeit.batch`` (above this package);
the worker registers both (``gleitzeit.worker.build.WORKFLOWS``).

The workflow class is imported lazily (PEP 562). Temporal's sandbox re-imports a workflow's module,
with its parent packages, for every new run: what this module imports eagerly each run pays again.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gleitzeit.workflows.dag import DagWorkflow

__all__ = ["DagWorkflow"]


def __getattr__(name: str) -> Any:
    if name == "DagWorkflow":
        return importlib.import_module("gleitzeit.workflows.dag").DagWorkflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
