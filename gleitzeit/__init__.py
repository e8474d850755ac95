"""Gleitzeit: durable LLM and Python pipelines from YAML, on Temporal."""

from gleitzeit.core.errors import (
    GleitzeitError,
    TaskExecutionError,
    TimeoutError,
    ValidationError,
)

__version__ = "0.1.0"

__all__ = [
    "GleitzeitError",
    "TaskExecutionError",
    "TimeoutError",
    "ValidationError",
    "__version__",
]
