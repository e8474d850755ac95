"""Test your own pipelines: scripted LLM answers, injected failures, time skipping, assertions.

Two ways in, on the same machinery (the real DagWorkflow on Temporal's time-skipping test server,
LLM activities replaced by scripted doubles, python tasks run for real with the local executor
unless their result is scripted):

- ``*.test.yaml`` files beside a pipeline, run by ``gleitzeit test`` (or by ``pytest``, whose plugin
  ``gleitzeit.testing.pytest_plugin`` collects them); the format: ``gleitzeit.testing.testfile``.
- ``PipelineTest`` from Python: ``llm.reply``, ``llm.fail``, ``scripts.result``, ``run``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gleitzeit.testing.pipeline_test import LlmScript, PipelineTest, ScriptResults
    from gleitzeit.testing.result import PipelineRun
    from gleitzeit.testing.runner import CaseOutcome, discover, load_files, run_cases
    from gleitzeit.testing.session import TestSession
    from gleitzeit.testing.testfile import TestCase, TestFile, load_test_file

__all__ = [
    "CaseOutcome",
    "LlmScript",
    "PipelineRun",
    "PipelineTest",
    "ScriptResults",
    "TestCase",
    "TestFile",
    "TestSession",
    "discover",
    "load_files",
    "load_test_file",
    "run_cases",
]

# Imported on first use: pytest loads this package for its plugin at every start, and the names
# here pull in the worker and Temporal's SDK, which a test run without *.test.yaml files never needs.
_HOMES = {
    "CaseOutcome": "runner",
    "LlmScript": "pipeline_test",
    "PipelineRun": "result",
    "PipelineTest": "pipeline_test",
    "ScriptResults": "pipeline_test",
    "TestCase": "testfile",
    "TestFile": "testfile",
    "TestSession": "session",
    "discover": "runner",
    "load_files": "runner",
    "load_test_file": "testfile",
    "run_cases": "runner",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'gleitzeit.testing' has no attribute '{name}'")
    return getattr(importlib.import_module(f"gleitzeit.testing.{home}"), name)
