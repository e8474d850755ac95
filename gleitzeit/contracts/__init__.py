"""Every type that crosses Temporal, at the bottom of the package so that workflows and activities both
import it and neither imports the other.

One module per workflow, and what they share:

- ``spec``: the validated workflow (``WorkflowSpec``, ``TaskSpec``, ``RetrySpec``, ...), which the dsl
  produces and ``DagInput`` carries;
- ``tasks``: a task activity's input (``TaskInput``) and its family's result (``LlmResult``, ...);
- ``dag``: DagWorkflow's input, result and progress;
- ``batch``: BatchWorkflow's input, state, result and progress, and its activities' inputs and results;
- ``heartbeat``: how often activities heartbeat.

Plain pydantic data for the data converter; nothing here imports the rest of gleitzeit. Import a type
from the module that holds it (``from gleitzeit.contracts.dag import DagInput``). The modules are
imported on first use, not with the package: validating a pipeline needs ``spec`` only, and building
the batch and DAG models is a noticeable part of a short command's start.
"""

from __future__ import annotations

import importlib
from types import ModuleType

__all__ = ["batch", "dag", "heartbeat", "spec", "tasks"]


def __getattr__(name: str) -> ModuleType:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
