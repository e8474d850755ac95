"""pytest plugin (entry point ``pytest11``): ``*.test.yaml`` files are collected as tests, a case each.

``pytest`` alone then runs them next to the Python tests: an invalid test file is a collection error
listing every located problem; a failing case shows what differed. One time-skipping test server and
one worker serve the whole pytest session; they run on an event loop of their own, in a thread, so
they never meet the loop pytest-asyncio (or anything else) drives.

``-p no:gleitzeit`` turns the plugin off; ``gleitzeit_yaml_tests = false`` in the ini file
turns the collection off for a project that keeps ``*.test.yaml`` files around for other reasons.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pytest

if TYPE_CHECKING:
    from gleitzeit.testing.session import TestSession
    from gleitzeit.testing.testfile import TestCase, TestFile

__all__ = ["CaseFailed", "YamlCase", "YamlTestFile"]

SUFFIX = ".test.yaml"
_T = TypeVar("_T")


class CaseFailed(Exception):
    """A case's run differed from what it expects (``differences``, one line each)."""

    def __init__(self, differences: list[str]) -> None:
        super().__init__("\n".join(differences))
        self.differences = differences


class _Background:
    """An event loop in a daemon thread owning the session's test server and worker."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="gleitzeit-tests", daemon=True)
        self.thread.start()
        self.session: TestSession | None = None

    def call(self, coro: Coroutine[Any, Any, _T]) -> _T:
        future: Future[_T] = asyncio.run_coroutine_threadsafe(coro, self.loop)
        return future.result()

    def start_session(self) -> TestSession:
        if self.session is None:
            from gleitzeit.testing.session import TestSession

            async def start() -> TestSession:
                session = TestSession()
                await session.__aenter__()
                return session

            self.session = self.call(start())
        return self.session

    def close(self) -> None:
        if self.session is not None:
            self.call(self.session.__aexit__(None, None, None))
            self.session = None
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=10)


_BACKGROUND_KEY = pytest.StashKey[_Background]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "gleitzeit_yaml_tests",
        "collect *.test.yaml pipeline tests (gleitzeit.testing)",
        type="bool",
        default=True,
    )


def pytest_collect_file(parent: pytest.Collector, file_path: Path) -> pytest.Collector | None:
    if file_path.name.endswith(SUFFIX) and parent.config.getini("gleitzeit_yaml_tests"):
        return YamlTestFile.from_parent(parent, path=file_path)
    return None


def pytest_unconfigure(config: pytest.Config) -> None:
    background = config.stash.get(_BACKGROUND_KEY, None)
    if background is not None:
        background.close()


def _background(config: pytest.Config) -> _Background:
    background = config.stash.get(_BACKGROUND_KEY, None)
    if background is None:
        background = config.stash[_BACKGROUND_KEY] = _Background()
    return background


class YamlTestFile(pytest.File):
    """A ``*.test.yaml`` file: one item per case."""

    def collect(self) -> Iterator[YamlCase]:
        from gleitzeit.core.errors import ValidationError
        from gleitzeit.testing.testfile import load_test_file

        try:
            test = load_test_file(self.path)
        except ValidationError as exc:
            lines = [str(p) for p in exc.problems] or [str(exc)]
            raise self.CollectError("invalid pipeline test file:\n" + "\n".join(lines)) from None
        for case in test.cases:
            yield YamlCase.from_parent(self, name=case.name, test=test, case=case)


class YamlCase(pytest.Item):
    """One case of a test file, run on the plugin's shared time-skipping session."""

    def __init__(self, *, test: TestFile, case: TestCase, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.test = test
        self.case = case

    def runtest(self) -> None:
        from gleitzeit.testing.runner import run_case

        background = _background(self.config)
        session = background.start_session()
        outcome = background.call(run_case(session, self.test, self.case))
        self.user_properties.append(("virtual_time", outcome.virtual_time.total_seconds()))
        if not outcome.passed:
            raise CaseFailed(outcome.differences)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> str:
        if isinstance(excinfo.value, CaseFailed):
            return f"{self.path.name}::{self.name} failed:\n" + "\n".join(
                f"  {d}" for d in excinfo.value.differences
            )
        return str(super().repr_failure(excinfo))

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, (self.case.line - 1) if self.case.line else None, f"pipeline test: {self.name}"
