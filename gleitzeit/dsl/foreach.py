"""A task's ``foreach:`` as written: an inline list (at most ``MAX_FOREACH_ITEMS`` entries) or one
reference to a list, and its ``max_concurrent``. Whether ${item} is used in the right places is
checked when the tasks are linked (``gleitzeit.dsl.linking``); the workflow side is
``gleitzeit.workflows.foreach``."""

from __future__ import annotations

from typing import Any

from gleitzeit.contracts.spec import MAX_FOREACH_ITEMS
from gleitzeit.core.errors import ValidationError
from gleitzeit.dsl.positions import Path
from gleitzeit.dsl.references import Reference, parse_template
from gleitzeit.dsl.report import Reporter

__all__ = ["parse_foreach"]


_FOREACH_HINT = (
    "write 'foreach: ${load.result.items}' (one reference to a list) or an inline list: 'foreach: [a, b]'"
)


def parse_foreach(
    raw: dict[str, Any], path: Path, r: Reporter, label: str | None
) -> tuple[bool, list[Any] | str | None, int | None]:
    """(whether ``foreach`` was written, its valid value or None, ``max_concurrent``)."""
    max_concurrent: int | None = None
    if "max_concurrent" in raw:
        mc = raw["max_concurrent"]
        if "foreach" not in raw:
            r.add(
                "invalid-value",
                "'max_concurrent' applies only to a task with 'foreach:'",
                (*path, "max_concurrent"),
                task=label,
                key="max_concurrent",
                at="key",
                hint="add 'foreach:' to run the task once per item, or remove 'max_concurrent' (see max_parallel)",
            )
        elif isinstance(mc, int) and not isinstance(mc, bool) and mc >= 1:
            max_concurrent = mc
        else:
            r.add(
                "invalid-value",
                f"'max_concurrent' must be a whole number of at least 1, not {mc!r}",
                (*path, "max_concurrent"),
                task=label,
                key="max_concurrent",
                hint="write e.g. 'max_concurrent: 4'",
            )
    if "foreach" not in raw:
        return False, None, max_concurrent
    value = raw["foreach"]
    fpath = (*path, "foreach")
    if isinstance(value, list):
        if len(value) > MAX_FOREACH_ITEMS:
            r.add(
                "foreach-too-long",
                f"'foreach' lists {len(value):,} items, over the limit of {MAX_FOREACH_ITEMS:,} per task",
                fpath,
                task=label,
                key="foreach",
                hint="run long lists with the batch form ('type: batch' over files), or split the list",
            )
            return True, None, max_concurrent
        return True, value, max_concurrent
    if isinstance(value, str) and "${" in value:
        try:
            parts = parse_template(value)
        except ValidationError:
            parts = []  # the reference check reports the syntax, with its position
        if (len(parts) == 1 and isinstance(parts[0], Reference)) or not parts:
            return True, value, max_concurrent
    r.add(
        "wrong-type",
        f"'foreach' must be a list or one reference to a list, not {value!r}",
        fpath,
        task=label,
        key="foreach",
        hint=_FOREACH_HINT,
    )
    return True, None, max_concurrent
