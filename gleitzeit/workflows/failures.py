"""Which exceptions fail a run outright instead of its workflow task (no poison runs).

By default Temporal treats any exception a workflow raises, other than its own failure types, as a
failed *workflow task*: the run stays RUNNING and the task is retried every few seconds, forever,
while ``gleitzeit run`` waits. That is right for a deploy mistake (a nondeterminism error is fixed by
rolling the worker back, and the run goes on), and wrong when the input itself cannot be run: a spec
that does not decode ("Failed decoding arguments", a pydantic ValidationError), or a value the
interpreter cannot use ("Python int too large to convert to C int", an overflowing timedelta, a
missing key). Every retry would fail the same way. ``INPUT_FAILURE_TYPES`` is given to both
workflow definitions (``failure_exception_types``), so those fail the run at once with their
message; nondeterminism, deadlocks and the sandbox's refusals keep failing only the task.

Why the workflow definition and not the worker: every worker that registers the workflows, the
Replayer and the tests' own workers get the same behaviour without being told.
"""

from __future__ import annotations

__all__ = ["INPUT_FAILURE_TYPES"]

# ValueError covers pydantic's ValidationError (decoding) and JSON errors; ArithmeticError covers
# OverflowError; LookupError KeyError and IndexError.
INPUT_FAILURE_TYPES: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    ArithmeticError,
    LookupError,
    AttributeError,
    RecursionError,
)
