"""Shared pieces of the batch tests: input trees, a scripted double of one file's work, a worker.

``ProcessDouble`` stands in for the work on one file (``BatchActivities.work_on``) only: the
activities around it stay real (listing, paging, ``batch.process_files`` with its concurrency and
outcomes, ``batch.process_file``, cleanup), so the workflow is tested against the real listing on disk
and the real chunk runner. It records every call with the file's attempt, the peak number running at
once, and can be scripted per file to fail (retryably N times, or for good) or to sleep.
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

from gleitzeit.batch.activities import BatchActivities
from gleitzeit.batch.store import FileWork, ScratchLog
from gleitzeit.config import Settings
from gleitzeit.contracts.batch import (
    BatchChunkInput,
    BatchChunkResult,
    BatchFileInput,
    BatchFileResult,
)
from gleitzeit.worker.build import build_worker


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
    # A chunk holding one of these files dies on every attempt (as when its worker keeps crashing).
    lose_chunks_with: set[str] = field(default_factory=set)
    calls: list[tuple[str, int]] = field(default_factory=list)  # (file, attempt)
    chunks: list[tuple[int, int, int]] = field(default_factory=list)  # (start, files, concurrency)
    finished: list[str] = field(default_factory=list)
    running: int = 0
    peak: int = 0
    ended_at: dict[str, float] = field(default_factory=dict)

    def per_file(self) -> Counter[str]:
        return Counter(f for f, _ in self.calls)

    async def process_one(self, inp: BatchFileInput) -> BatchFileResult:
        # The file's attempt in all: a file retried alone after its chunk had prior attempts there.
        attempt = inp.prior_attempts + activity.info().attempt
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


class DoubledBatchActivities(BatchActivities):
    """The real batch activities with ``double`` doing each file's work."""

    def __init__(self, settings: Settings, double: ProcessDouble) -> None:
        super().__init__(settings)
        self._double = double

    async def work_on(self, inp: BatchFileInput, log: ScratchLog | None = None) -> FileWork:
        return FileWork(await self._double.process_one(inp))

    @activity.defn(name="batch.process_files")
    async def process_files(self, inp: BatchChunkInput) -> BatchChunkResult:
        self._double.chunks.append((inp.start, len(inp.files), inp.concurrency))
        if self._double.lose_chunks_with.intersection(inp.files):
            raise ApplicationError("the chunk's worker was lost", type="WorkerLost")
        return await super().process_files(inp)


def double_worker(client: Client, settings: Settings, double: ProcessDouble) -> Worker:
    """A worker with the real batch activities and ``double`` for each file's work."""
    return build_worker(client, settings, activities=DoubledBatchActivities(settings, double).all())
