"""Shared pieces of the batch tests: input trees, a scripted ``batch.process_file`` double, a worker.

``ProcessDouble`` stands in for ``batch.process_file`` only; listing and paging stay real, so the
workflow is tested against the real listing on disk. It records every call, the peak number running
at once, and can be scripted per file to fail (retryably N times, or for good) or to sleep.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from gleitzeit.activities.files import FileActivities
from gleitzeit.config import Settings
from gleitzeit.worker.build import build_worker
from gleitzeit.workflows.batch_models import BatchFileInput, BatchFileResult


def make_tree(root: Path, count: int, *, suffix: str = ".txt", width: int = 5) -> list[str]:
    """``count`` small files ``f00000.txt`` ... with content ``content of <name>``; their names."""
    root.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        name = f"f{i:0{width}d}{suffix}"
        (root / name).write_text(f"content of {name}")
        names.append(name)
    return names


def batch_settings(tmp_path: Path, **kw: Any) -> Settings:
    return Settings(task_queue=f"batch-{uuid.uuid4().hex[:8]}", data_dir=tmp_path / "data", **kw)


@dataclass
class ProcessDouble:
    sleep: float = 0.0
    slow: dict[str, float] = field(default_factory=dict)  # file -> seconds
    fail_always: set[str] = field(default_factory=set)
    fail_times: dict[str, int] = field(default_factory=dict)  # file -> failing attempts before success
    calls: list[tuple[str, int]] = field(default_factory=list)  # (file, attempt)
    finished: list[str] = field(default_factory=list)
    running: int = 0
    peak: int = 0
    ended_at: dict[str, float] = field(default_factory=dict)

    def per_file(self) -> Counter[str]:
        return Counter(f for f, _ in self.calls)

    @activity.defn(name="batch.process_file")
    async def process_file(self, inp: BatchFileInput) -> BatchFileResult:
        attempt = activity.info().attempt
        self.calls.append((inp.file, attempt))
        self.running += 1
        self.peak = max(self.peak, self.running)
        try:
            await asyncio.sleep(self.slow.get(inp.file, self.sleep))
            if inp.file in self.fail_always:
                raise ApplicationError(f"cannot process {inp.file}", type="ScriptError", non_retryable=True)
            if attempt <= self.fail_times.get(inp.file, 0):
                raise ApplicationError("LLM server busy", type="LLMServerError")
            self.finished.append(inp.file)
            value = f"done {inp.file}"
            return BatchFileResult(
                file=inp.file,
                status="completed",
                value=value if inp.inline else None,
                has_value=inp.inline,
                value_bytes=len(value) + len(inp.file) + 16 if inp.inline else 0,
                preview=value,
            )
        finally:
            self.running -= 1
            self.ended_at[inp.file] = time.monotonic()


def double_worker(client: Client, settings: Settings, double: ProcessDouble) -> Worker:
    """A worker with the real listing activities and ``double`` for batch.process_file."""
    real = FileActivities(settings)
    return build_worker(client, settings, activities=[real.list_files, real.page, double.process_file])
