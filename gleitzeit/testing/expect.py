"""Compare what a case expects with what its run did: one line per difference, naming where.

Outputs and results match partially: a mapping in the expectation names only the keys it cares
about (recursively); lists and scalars must be equal (``5`` equals ``5.0``). ``skipped`` is the
exact set of skipped tasks. Long texts that differ get a line diff.
"""

from __future__ import annotations

import difflib
import json
from typing import Any

from gleitzeit.testing.result import PipelineRun
from gleitzeit.testing.testfile import Expect

__all__ = ["check", "partial_differences"]


def check(expect: Expect, run: PipelineRun) -> list[str]:
    """Every way ``run`` differs from ``expect``; empty when the case passes."""
    out: list[str] = list(run.mistakes)
    wanted = expect.status or (
        "completed" if expect.error is None and expect.failed_task is None else "failed"
    )
    # A run stopped by an unscripted call already says so in its mistake; no second line for it.
    stopped_by_mistake = bool(run.error) and any(str(run.error) in m for m in run.mistakes)
    if run.status != wanted and not stopped_by_mistake:
        why = (
            f": task '{run.failed_task}' failed: {run.error}"
            if run.failed_task
            else (f": {run.error}" if run.error else "")
        )
        out.append(f"status: expected {wanted}, got {run.status}{why}")
    if expect.error is not None:
        texts = [t for t in (run.error, *(t.error for t in run.tasks if t.error)) if t]
        if not any(expect.error.search(t) for t in texts):
            got = run.error or "no error"
            out.append(f"error: expected a match for /{expect.error.pattern}/, got {got!r}")
    if expect.failed_task is not None and run.task_id(expect.failed_task) != run.failed_task:
        out.append(f"failed_task: expected '{expect.failed_task}', got {run.failed_task!r}")
    for name, value in expect.outputs.items():
        if name not in run.outputs:
            why = "the run failed before its outputs" if run.status != "completed" else "no such output"
            out.append(f"outputs.{name}: expected {_show(value)}, but {why}")
            continue
        out.extend(partial_differences(value, run.outputs[name], f"outputs.{name}"))
    for task, value in expect.results.items():
        task_id = run.task_id(task)
        if task_id not in run.results:
            state = run.state(task_id)
            out.append(
                f"results.{task}: expected a result, but task '{task}' "
                f"{state.state if state else 'did not run'}"
                + (f" ({state.error or state.reason})" if state and (state.error or state.reason) else "")
            )
            continue
        out.extend(partial_differences(value, run.results[task_id], f"results.{task}"))
    for task, count in expect.attempts.items():
        made = run.attempts(task)
        if made != count:
            out.append(f"attempts.{task}: expected {count}, got {made}")
    if expect.skipped is not None:
        want, got_skipped = sorted(expect.skipped), sorted(run.skipped)
        if want != got_skipped:
            missing = [t for t in want if t not in got_skipped]
            extra = [t for t in got_skipped if t not in want]
            parts = [
                f"not skipped: {', '.join(missing)}" if missing else "",
                f"also skipped: {', '.join(extra)}" if extra else "",
            ]
            out.append(
                f"skipped: expected {want}, got {got_skipped} (" + "; ".join(p for p in parts if p) + ")"
            )
    return out


def partial_differences(expected: Any, actual: Any, where: str) -> list[str]:
    """Differences of ``actual`` from ``expected``; mappings in ``expected`` match partially."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected a mapping {_show(expected)}, got {_show(actual)}"]
        out: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                keys = ", ".join(map(str, actual)) or "none"
                out.append(f"{where}.{key}: expected {_show(value)}, but there is no '{key}' (keys: {keys})")
            else:
                out.extend(partial_differences(value, actual[key], f"{where}.{key}"))
        return out
    if isinstance(expected, list) and isinstance(actual, list) and len(expected) == len(actual):
        out = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            out.extend(partial_differences(e, a, f"{where}[{i}]"))
        return out
    if _equal(expected, actual):
        return []
    if isinstance(expected, str) and isinstance(actual, str) and ("\n" in expected or "\n" in actual):
        diff = difflib.unified_diff(
            expected.splitlines(), actual.splitlines(), "expected", "actual", lineterm="", n=1
        )
        return [f"{where}: texts differ\n    " + "\n    ".join(diff)]
    return [f"{where}: expected {_show(expected)}, got {_show(actual)}"]


def _equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual
    return bool(expected == actual)


def _show(value: Any, limit: int = 200) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[:limit] + f"... ({len(text)} chars)"
