"""2,000 files through BatchWorkflow on a real Temporal dev server, with the real batch activities
against a fast OllamaDouble: every result file exists with the right content, no file was asked for
twice, and the run continued as new several times (every 500 files here). Its wall time is printed
(not asserted). The 10,000-file run is the bench's (python -m bench): scale belongs there, not in CI."""

from __future__ import annotations

import json
import time
from collections import Counter
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment

from gleitzeit.client.batch import start_batch, wait_batch
from gleitzeit.contracts.batch import BatchInput
from gleitzeit.worker.build import build_worker
from tests.batch.harness import batch_settings, make_tree
from tests.doubles.ollama_double import OllamaDouble

pytestmark = [pytest.mark.timeout(300), pytest.mark.temporal, pytest.mark.slow]

FILES = 2_000
FILES_PER_RUN = 500


async def test_two_thousand_files_over_four_runs(local_env: WorkflowEnvironment, tmp_path: Path) -> None:
    names = make_tree(tmp_path / "in", FILES)
    out = tmp_path / "out"
    async with OllamaDouble(latency_ms=1) as double:
        settings = batch_settings(tmp_path, ollama_host=double.url)
        inp = BatchInput(
            directory=str(tmp_path / "in"),
            pattern="*.txt",
            method="llm/generate",
            parameters={"model": "smollm2:135m", "prompt": "Summarize.", "num_predict": 8},
            max_concurrent=50,
            output_dir=str(out),
            files_per_run=FILES_PER_RUN,  # the default is 10,000: continue as new at scale too
        )
        started = time.monotonic()
        async with build_worker(local_env.client, settings, max_concurrent_activities=100):
            result = await wait_batch(await start_batch(local_env.client, inp, settings))
        elapsed = time.monotonic() - started
        requests = double.calls("/api/generate")
    print(f"\n{FILES} files in {elapsed:.1f} s ({FILES / elapsed:.0f} files/s), {result.runs} runs")

    assert (result.total, result.completed, result.failed) == (FILES, FILES, 0), result.errors
    assert result.runs >= FILES // FILES_PER_RUN
    assert result.results == {} and not result.results_truncated  # over the inline limit: files only
    per_file = Counter(r.text.split("\n\n", 1)[0] for r in requests)
    assert len(requests) == FILES and max(per_file.values()) == 1
    written = sorted(p.name for p in out.iterdir() if p.name != ".gleitzeit")
    assert written == [f"{n}.json" for n in names]
    for name in names:
        doc = json.loads((out / f"{name}.json").read_text())
        assert doc["file"] == name and doc["result"]["response"].startswith(f"echo: content of {name}")
