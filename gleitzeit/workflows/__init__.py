"""The generic workflows. Deterministic code only: no I/O, clock, randomness or set iteration."""

from gleitzeit.workflows.batch import BatchWorkflow
from gleitzeit.workflows.dag import DagWorkflow

# Every workflow class a worker registers.
WORKFLOWS: tuple[type, ...] = (DagWorkflow, BatchWorkflow)

__all__ = ["WORKFLOWS", "BatchWorkflow", "DagWorkflow"]
