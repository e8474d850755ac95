"""Reports of a test run: a line per case, a JSON document, a JUnit XML file for CI systems."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

from gleitzeit.testing.runner import CaseOutcome

__all__ = ["case_line", "dumps", "duration_text", "summary_line", "to_json", "write_junit"]


def duration_text(value: timedelta | float) -> str:
    """``2h45m53s``, ``3.2s``, ``12ms``: short, for virtual and wall times alike."""
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(round(seconds))
    days, rest = divmod(whole, 86_400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [(days, "d"), (hours, "h"), (minutes, "m"), (secs, "s")]
    return "".join(f"{n}{unit}" for n, unit in parts if n) or "0s"


def case_line(outcome: CaseOutcome) -> str:
    """``PASS file::case  0.12s (virtual 3h0m12s)``, then the differences of a failure, indented."""
    verdict = "PASS" if outcome.passed else "FAIL"
    line = (
        f"{verdict} {outcome.id}  {duration_text(outcome.wall_time)} "
        f"(virtual {duration_text(outcome.virtual_time)})"
    )
    return "\n".join([line, *(f"    {d}" for d in outcome.differences)])


def summary_line(outcomes: Sequence[CaseOutcome], wall: float) -> str:
    failed = sum(not o.passed for o in outcomes)
    virtual = sum((o.virtual_time for o in outcomes), timedelta(0))
    return (
        f"{len(outcomes) - failed} passed, {failed} failed in {duration_text(wall)} "
        f"(virtual time: {duration_text(virtual)})"
    )


def to_json(outcomes: Sequence[CaseOutcome], wall: float) -> dict[str, Any]:
    return {
        "passed": sum(o.passed for o in outcomes),
        "failed": sum(not o.passed for o in outcomes),
        "wall_time": round(wall, 3),
        "cases": [
            {
                "file": o.file,
                "case": o.case,
                "passed": o.passed,
                "wall_time": round(o.wall_time, 4),
                "virtual_time": o.virtual_time.total_seconds(),
                "status": o.run.status if o.run else None,
                "workflow_id": o.run.workflow_id if o.run else None,
                "differences": o.differences,
            }
            for o in outcomes
        ],
    }


def write_junit(path: str | Path, outcomes: Sequence[CaseOutcome], wall: float) -> None:
    """One ``<testsuite>`` per test file, one ``<testcase>`` per case (classname: the file)."""
    root = ET.Element(
        "testsuites",
        name="gleitzeit test",
        tests=str(len(outcomes)),
        failures=str(sum(not o.passed for o in outcomes)),
        errors="0",
        time=f"{wall:.3f}",
    )
    by_file: dict[str, list[CaseOutcome]] = {}
    for o in outcomes:
        by_file.setdefault(o.file, []).append(o)
    for file, cases in by_file.items():
        suite = ET.SubElement(
            root,
            "testsuite",
            name=file,
            tests=str(len(cases)),
            failures=str(sum(not c.passed for c in cases)),
            errors="0",
            time=f"{sum(c.wall_time for c in cases):.3f}",
        )
        for c in cases:
            case = ET.SubElement(suite, "testcase", classname=file, name=c.case, time=f"{c.wall_time:.3f}")
            ET.SubElement(case, "system-out").text = f"virtual time: {duration_text(c.virtual_time)}"
            if not c.passed:
                failure = ET.SubElement(case, "failure", message=c.differences[0].splitlines()[0][:500])
                failure.text = "\n".join(c.differences)
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    ET.ElementTree(root).write(target, encoding="utf-8", xml_declaration=True)


def dumps(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, default=str)
