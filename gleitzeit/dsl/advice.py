"""Warnings about a valid pipeline: allowed, but likely not what its author meant.

``gleitzeit validate`` prints them (and lists them under ``warnings`` with ``--json``); they never
make a file invalid. Today: a ``human/approval`` without a ``timeout`` waits until someone answers,
however long that takes.
"""

from __future__ import annotations

from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import Problem

__all__ = ["warnings_for"]


def warnings_for(spec: WorkflowSpec) -> list[Problem]:
    """The warnings for ``spec``, each located at its task."""
    found: list[Problem] = []
    for task in spec.tasks:
        if task.method == "human/approval" and task.parameters.get("timeout") is None:
            found.append(
                Problem(
                    message="this approval has no timeout: the run waits until someone answers, however long",
                    file=spec.source_file,
                    line=task.line,
                    task=task.id,
                    key="parameters",
                    hint="add e.g. 'timeout: 48h' and 'on_timeout: fail | approve | reject'",
                    code="approval-without-timeout",
                )
            )
    return found
