"""A batch's input before it starts: checked on the caller's side (``check_batch_input``), or built from
the YAML batch form (``batch_input_from_spec``).

What can be refused before anything runs is refused here, with a ``ValidationError`` naming the key:
a method that takes no file, a missing directory or pattern, a python batch whose ``context`` is not a
mapping. ``base_dir`` becomes the caller's working directory, so relative paths mean what the caller
meant even when the worker runs elsewhere.
"""

from __future__ import annotations

import os
from typing import Any

from gleitzeit.config import Settings
from gleitzeit.contracts.batch import BatchInput
from gleitzeit.contracts.spec import RetrySpec, WorkflowSpec
from gleitzeit.core.errors import Problem, ValidationError
from gleitzeit.dsl import references
from gleitzeit.dsl.batch import file_key
from gleitzeit.dsl.methods import canonical_method

__all__ = ["batch_input_from_spec", "check_batch_input"]


def check_batch_input(inp: BatchInput) -> BatchInput:
    """``inp`` with the method made canonical; ValidationError naming what is wrong otherwise."""
    method = canonical_method(inp.method)
    problems: list[Problem] = []
    if method is None or file_key(method) is None:
        problems.append(
            Problem(
                f"a batch cannot use method '{inp.method}'",
                key="method",
                hint="use llm/chat, llm/generate, llm/vision or python/execute",
                code="invalid-value",
            )
        )
    if not inp.directory:
        problems.append(Problem("a batch needs a directory", key="directory", code="missing-key"))
    if not inp.pattern:
        problems.append(
            Problem(
                "'pattern' must be a glob like '*.txt'", key="pattern", hint="use **/*.txt for subfolders"
            )
        )
    if method == "python/execute" and not isinstance(inp.parameters.get("context", {}), dict):
        problems.append(
            Problem(
                "'context' of a python batch must be a mapping (the file path is added to it)",
                key="parameters.context",
            )
        )
    if problems:
        raise ValidationError(problems=problems)
    update: dict[str, Any] = {"method": method}
    if inp.base_dir is None:
        update["base_dir"] = os.getcwd()
    return inp.model_copy(update=update)


def batch_input_from_spec(spec: WorkflowSpec, inputs: dict[str, Any], settings: Settings) -> BatchInput:
    """The BatchInput of a loaded batch-form workflow, with ``${inputs.*}`` resolved."""
    batch, template = spec.batch, spec.template or {}
    assert batch is not None, "not a batch-form workflow"
    parameters = references.resolve(template.get("parameters") or {}, {}, inputs)
    retry = template.get("retry")
    return BatchInput(
        name=spec.name,
        directory=batch.directory,
        pattern=batch.pattern,
        base_dir=spec.base_dir,
        method=template["method"],
        parameters=parameters,
        max_concurrent=min(spec.max_parallel or batch.max_concurrent or settings.max_parallel, 1000),
        timeout=template.get("timeout"),
        retry=RetrySpec.model_validate(retry) if retry else None,
    )
