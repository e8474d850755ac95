"""The limits every workflow document is held to once parsed, YAML and dict alike.

The YAML parser already refuses bombs and deep nesting while it composes (see
:mod:`gleitzeit.dsl.positions`); a dict from the client or the API's ``spec`` never went through it,
and may share one list a million times or nest 10,000 levels (``copy.deepcopy`` alone would then
be a RecursionError). So before anything recursive touches the data, ``check_document`` walks it
once, iteratively, counting every node as often as it appears:

- more than ``MAX_NODES`` nodes: too-large (nothing else is looked at);
- deeper than ``MAX_DEPTH`` levels: too-deep (nothing else is looked at);
- an integer outside the signed 64-bit range, or a float that is not finite (``.inf``, ``.nan``,
  ``1e999``): invalid-value at its line. No setting takes such a number, JSON cannot carry the float,
  and neither can a Temporal payload or the script that would receive it;
- a string holding a lone surrogate (YAML's ``"\ud800"``): invalid-value; it validated, then no
  UTF-8 encoder could send it to Temporal.
"""

from __future__ import annotations

import math
import re
from typing import Any

from gleitzeit.dsl.positions import MAX_DEPTH, Path
from gleitzeit.dsl.report import Reporter, key_of

__all__ = ["INT64_MAX", "INT64_MIN", "MAX_NODES", "check_document"]

# A workflow of the largest file the loader reads (a few MB) has well under a million nodes.
MAX_NODES = 1_000_000
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_SURROGATE = re.compile("[\ud800-\udfff]")


def _task_of(data: Any, path: Path) -> tuple[str | None, Path]:
    """The task label a path lies in (and the path inside the task), for messages."""
    if len(path) >= 2 and path[0] == "tasks" and isinstance(path[1], int) and isinstance(data, dict):
        tasks = data.get("tasks")
        if isinstance(tasks, list) and 0 <= path[1] < len(tasks) and isinstance(tasks[path[1]], dict):
            entry = tasks[path[1]]
            label = entry.get("id") or entry.get("name")
            if isinstance(label, str | int) and not isinstance(label, bool):
                return str(label), path[2:]
    return None, path


def check_document(data: Any, r: Reporter) -> bool:
    """Report what is out of bounds in ``data``; False when it is too large or deep to look at further."""
    stack: list[tuple[Any, Path, int]] = [(data, (), 0)]
    nodes = 0
    while stack:
        value, path, depth = stack.pop()
        nodes += 1
        if nodes > MAX_NODES:
            r.add(
                "too-large",
                f"the workflow has more than {MAX_NODES:,} values (counting every repeat of a shared one)",
                (),
                hint="split it, or move the data into a file a task reads",
            )
            return False
        if isinstance(value, dict | list):
            if depth >= MAX_DEPTH:
                task, inner = _task_of(data, path)
                r.add(
                    "too-deep",
                    f"nesting deeper than {MAX_DEPTH} levels",
                    path,
                    task=task,
                    key=key_of(inner) or None,
                    hint="flatten the structure, or move the data into a file a task reads",
                )
                return False
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for k, v in items:
                if isinstance(v, dict | list | int | float | str):
                    stack.append((v, (*path, k if isinstance(k, str | int) else str(k)), depth + 1))
            continue
        bad = None
        if isinstance(value, bool):
            continue
        if isinstance(value, int) and not INT64_MIN <= value <= INT64_MAX:
            bad = f"the number {value} is outside the 64-bit range every setting and script shares"
        elif isinstance(value, float) and not math.isfinite(value):
            bad = f"{value} is not a finite number"
        elif isinstance(value, str) and _SURROGATE.search(value):
            bad = "the text holds a lone surrogate (half of a UTF-16 pair), which is not a character"
        if bad is not None:
            task, inner = _task_of(data, path)
            r.add(
                "invalid-value",
                bad,
                path,
                task=task,
                key=key_of(inner) or None,
                hint="write a finite number in range (quote it to pass it as text)"
                if not isinstance(value, str)
                else "write the character itself, or its full \\U0001xxxx escape",
            )
    return True
