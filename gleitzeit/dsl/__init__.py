"""The workflow format: load YAML/dicts into validated models, resolve references between tasks.

``load_workflow`` is the entry point (file, YAML text or dict -> ``WorkflowSpec``); the workflow calls
``resolve`` (references), ``evaluate`` (``when:``), ``bind_inputs`` and ``expand_batch``. See
WORKFLOW_FORMAT.md for the format and each module's docstring for the details.
"""

from gleitzeit.contracts.spec import PRIORITY_RANKS, BatchSpec, InputSpec, RetrySpec, TaskSpec, WorkflowSpec
from gleitzeit.dsl.batch import expand_batch
from gleitzeit.dsl.conditions import evaluate
from gleitzeit.dsl.inputs import bind_inputs
from gleitzeit.dsl.loader import load_workflow, load_workflow_text, validate_workflow
from gleitzeit.dsl.methods import METHODS, MethodInfo, canonical_method, method_info
from gleitzeit.dsl.references import Reference, find_references, primary_fields_for, resolve

__all__ = [
    "METHODS",
    "PRIORITY_RANKS",
    "BatchSpec",
    "InputSpec",
    "MethodInfo",
    "Reference",
    "RetrySpec",
    "TaskSpec",
    "WorkflowSpec",
    "bind_inputs",
    "canonical_method",
    "evaluate",
    "expand_batch",
    "find_references",
    "load_workflow",
    "load_workflow_text",
    "method_info",
    "primary_fields_for",
    "resolve",
    "validate_workflow",
]
