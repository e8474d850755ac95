"""``batch.process_files`` on its own: its concurrency, one outcome per file (final failure, retry by the
workflow, or a result), results on disk before it returns, and a retried attempt that skips the files
an earlier one finished (the real activity against OllamaDouble)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from gleitzeit.batch.activities import BatchActivities
from gleitzeit.batch.chunk import run_chunk
from gleitzeit.batch.store import FileWork, ScratchLog, scratch_log_path
from gleitzeit.contracts.batch import (
    BatchChunkInput,
    BatchCleanupInput,
    BatchFileInput,
    BatchFileResult,
    chunk_log_name,
)
from tests.batch.harness import batch_settings, make_tree
from tests.doubles.ollama_double import OllamaDouble

pytestmark = pytest.mark.timeout(60)
PROMPT = "Summarize."


def chunk_input(root: Path, files: list[str], **kw: Any) -> BatchChunkInput:
    kw.setdefault("start", 0)
    return BatchChunkInput(
        workflow_id="wf",
        root=str(root),
        method="llm/chat",
        parameters={"model": "smollm2:135m", "prompt": PROMPT},
        files=files,
        **kw,
    )


async def test_lanes_outcomes_and_errors(tmp_path: Path) -> None:
    files = [f"f{i}.txt" for i in range(12)]
    running = peak = 0
    written: list[str] = []

    async def work_on(inp: BatchFileInput) -> FileWork:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        try:
            await asyncio.sleep(0.01 if inp.file != "f5.txt" else 5)
            if inp.file == "f1.txt":
                raise ApplicationError("bad request", type="InvalidParameters", non_retryable=True)
            if inp.file == "f2.txt":
                raise ApplicationError("script failed", type="ScriptError")  # listed: final
            if inp.file == "f3.txt":
                raise ApplicationError("LLM server busy", type="LLMServerError")
            if inp.file == "f4.txt":
                raise RuntimeError("boom")
        finally:
            running -= 1
        result = BatchFileResult(file=inp.file, status="completed", value=inp.index, has_value=True)
        # f6's folder cannot be made: a regular file is in the way.
        path = tmp_path / "in-the-way" / inp.file if inp.file == "f6.txt" else tmp_path / inp.file
        written.append(inp.file)
        return FileWork(result, path, b"{}")

    inp = chunk_input(
        tmp_path, files, start=10, concurrency=3, non_retryable_types=["ScriptError"], file_timeout=1.0
    )
    (tmp_path / "in-the-way").write_text("")
    result = await ActivityEnvironment().run(run_chunk, work_on, inp)
    outcomes = {o.file: o for o in result.outcomes}
    assert [o.file for o in result.outcomes] == files and peak == 3
    assert outcomes["f0.txt"].status == "completed" and outcomes["f0.txt"].value == 10
    assert (outcomes["f1.txt"].status, outcomes["f1.txt"].error_type) == ("failed", "InvalidParameters")
    assert (outcomes["f2.txt"].status, outcomes["f2.txt"].error_type) == ("failed", "ScriptError")
    assert (outcomes["f3.txt"].status, outcomes["f3.txt"].error) == ("retry", "LLM server busy")
    assert (outcomes["f4.txt"].status, outcomes["f4.txt"].error) == ("retry", "RuntimeError: boom")
    assert (outcomes["f5.txt"].status, outcomes["f5.txt"].error_type) == ("retry", "Timeout")
    # Its result could not be written: not done, whatever the model said.
    assert outcomes["f6.txt"].status == "retry" and "could not write" in (outcomes["f6.txt"].error or "")
    # Every other result is on disk by the time the chunk returns.
    assert all((tmp_path / f).is_file() for f in written if f != "f6.txt")


async def test_a_retried_chunk_skips_what_it_finished_and_cleanup_keeps_spilled(tmp_path: Path) -> None:
    names = make_tree(tmp_path / "in", 6)
    async with OllamaDouble() as double:
        acts = BatchActivities(batch_settings(tmp_path, ollama_host=double.url))
        spill = tmp_path / "spill"
        inp = chunk_input(
            tmp_path / "in",
            names,
            concurrency=2,
            spill_dir=str(spill),
            inline=True,
            inline_max_bytes=10_000,
            scratch=True,
        )
        first = await ActivityEnvironment().run(acts.process_files, inp)
        assert [o.status for o in first.outcomes] == ["completed"] * 6
        assert first.outcomes[0].value == f"echo: content of {names[0]}\n\n{PROMPT}"
        log = scratch_log_path(spill, chunk_log_name(0, 6))
        docs = [json.loads(line) for line in log.read_text().splitlines()]
        assert sorted(d["file"] for d in docs) == names
        for doc in docs:
            assert doc["result"]["response"] == first.outcomes[names.index(doc["file"])].value
        asked = len(double.calls("/api/chat"))

        # The next attempt (a worker died after the first had finished some files) asks for none again:
        # names[2]'s line was cut short by the crash, so it alone is asked again.
        lines = [line for line in log.read_text().splitlines() if json.loads(line)["file"] != names[2]]
        log.write_text("\n".join(lines) + "\n" + '{"file": "' + names[2] + '", "met')
        second = await ActivityEnvironment().run(acts.process_files, inp)
        assert [o.status for o in second.outcomes].count("skipped_existing") == 5
        assert [o.value for o in second.outcomes] == [o.value for o in first.outcomes]
        assert len(double.calls("/api/chat")) == asked + 1
        assert set(ScratchLog(log).done) == set(names)  # its new line did not join the torn one

    (spill / "big.txt.json").write_text("{}")  # a spilled result: it stays
    await ActivityEnvironment().run(acts.cleanup, BatchCleanupInput(spill_dir=str(spill)))
    assert sorted(p.name for p in spill.iterdir()) == ["big.txt.json"]
    (spill / "big.txt.json").unlink()
    await ActivityEnvironment().run(acts.cleanup, BatchCleanupInput(spill_dir=str(spill)))
    assert not spill.exists()
