"""Find test files, run their cases on one session, and collect each case's outcome.

``discover`` turns files and folders into ``*.test.yaml`` paths (folders are searched recursively,
skipping hidden folders, virtual environments and ``node_modules``); ``load_files`` loads them all,
gathering every problem; ``run_cases`` runs the cases one after another on one ``TestSession``, so
each case's virtual time is its own (the test server's clock is shared by everything running).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from gleitzeit.core.errors import Problem, ValidationError
from gleitzeit.testing.expect import check
from gleitzeit.testing.result import PipelineRun
from gleitzeit.testing.session import TestSession
from gleitzeit.testing.testfile import TEST_SUFFIX, TestCase, TestFile, load_test_file

__all__ = ["CaseOutcome", "discover", "load_files", "run_case", "run_cases"]

_SKIP_DIRS = {"node_modules", "__pycache__", "venv", "site-packages"}


@dataclass
class CaseOutcome:
    """One case's verdict: ``differences`` is empty when it passed."""

    file: str
    case: str
    differences: list[str] = field(default_factory=list)
    wall_time: float = 0.0
    virtual_time: timedelta = timedelta(0)
    run: PipelineRun | None = None

    @property
    def passed(self) -> bool:
        return not self.differences

    @property
    def id(self) -> str:
        return f"{self.file}::{self.case}"


def discover(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[str]]:
    """(test files in a stable order, paths that do not exist)."""
    found: dict[Path, None] = {}
    missing: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_file():
            found[path] = None
        elif path.is_dir():
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in _SKIP_DIRS)
                for name in sorted(files):
                    if name.endswith(TEST_SUFFIX):
                        found[Path(root) / name] = None
        else:
            missing.append(str(raw))
    return list(found), missing


def load_files(paths: Sequence[Path]) -> tuple[list[TestFile], list[Problem]]:
    """Every file that loads, and every problem of those that do not."""
    loaded: list[TestFile] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            loaded.append(load_test_file(path))
        except ValidationError as exc:
            problems.extend(exc.problems or [Problem(str(exc), file=str(path))])
    return loaded, problems


async def run_case(session: TestSession, test: TestFile, case: TestCase) -> CaseOutcome:
    run = await session.run(test.spec, case.inputs, case.script)
    return CaseOutcome(
        str(test.path),
        case.name,
        check(case.expect, run),
        run.wall_time,
        run.virtual_time,
        run,
    )


async def run_cases(
    session: TestSession,
    files: Sequence[TestFile],
    on_outcome: Callable[[CaseOutcome], None] | None = None,
) -> list[CaseOutcome]:
    outcomes = []
    for test in files:
        for case in test.cases:
            outcome = await run_case(session, test, case)
            outcomes.append(outcome)
            if on_outcome is not None:
                on_outcome(outcome)
    return outcomes
