"""Benchmark 6: ``gleitzeit test`` running 100 cases of a 5-task pipeline in one invocation.

The pipeline has two python tasks run for real (local executor) and three scripted LLM tasks; every
other case makes its first LLM task fail once, so its retry (an hour's backoff) passes in virtual
time. Measured: the invocation's wall time (a process, as a user runs it: import, test server start,
worker, every case) and the per-case times the JSON report gives.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

__all__ = ["PIPELINE", "measure_pipeline_tests", "write_suite"]

PIPELINE = {
    "name": "bench-five",
    "inputs": {"topic": "rivers", "n": 3},
    "tasks": [
        {
            "id": "fetch",
            "method": "python/execute",
            "parameters": {
                "context": {"n": "${inputs.n}"},
                "code": "import json, sys\nn = json.load(sys.stdin)['n']\nprint(json.dumps({'rows': list(range(n))}))",
            },
        },
        {
            "id": "write",
            "method": "llm/chat",
            "retry": {"max_attempts": 3, "backoff": "fixed", "base_delay": "1h", "jitter": False},
            "parameters": {
                "model": "m",
                "prompt": "Write about ${inputs.topic} in ${fetch.result.rows} parts",
            },
        },
        {
            "id": "title",
            "method": "llm/generate",
            "parameters": {"model": "m", "prompt": "A title: ${write.response}"},
        },
        {
            "id": "keywords",
            "method": "llm/chat",
            "parameters": {"model": "m", "prompt": "Keywords: ${write.response}"},
        },
        {
            "id": "count",
            "method": "python/execute",
            "parameters": {
                "context": {"text": "${write.response}", "title": "${title.response}"},
                "code": "import json, sys\nc = json.load(sys.stdin)\n"
                "print(json.dumps({'words': len(c['text'].split()), 'title': c['title']}))",
            },
        },
    ],
    "outputs": {"words": "${count.result.words}", "title": "${count.result.title}"},
}


def write_suite(directory: Path, cases: int) -> Path:
    """The pipeline and a test file of ``cases`` cases beside it; returns the test file."""
    (directory / "five.yaml").write_text(yaml.safe_dump(PIPELINE, sort_keys=False))
    entries = []
    for i in range(cases):
        words = " ".join(["word"] * (i % 7 + 1))
        entries.append(
            {
                "name": f"case {i}",
                "inputs": {"topic": f"topic {i}", "n": i % 5 + 1},
                "llm": [
                    {"task": "write", "fail": i % 2, "reply": words},
                    {"task": "title", "reply": f"Title {i}"},
                    {"match": "^Keywords", "reply": "a, b"},
                ],
                "expect": {
                    "outputs": {"words": i % 7 + 1, "title": f"Title {i}"},
                    "attempts": {"write": 1 + i % 2},
                },
            }
        )
    test_file = directory / "five.test.yaml"
    test_file.write_text(yaml.safe_dump({"pipeline": "five.yaml", "cases": entries}, sort_keys=False))
    return test_file


def measure_pipeline_tests(cases: int = 100, log: Any = print) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="gleitzeit-bench-tests-") as tmp:
        test_file = write_suite(Path(tmp), cases)
        started = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-c",
                "from gleitzeit.cli import main; main()",
                "test",
                str(test_file),
                "--json",
            ],
            capture_output=True,
            text=True,
            timeout=600,
        )
        wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise RuntimeError(f"gleitzeit test exited {proc.returncode}: {(proc.stdout + proc.stderr)[-500:]}")
    report = json.loads(proc.stdout)
    per_case = [c["wall_time"] * 1000 for c in report["cases"]]
    virtual = sum(c["virtual_time"] for c in report["cases"])
    result = {
        "cases": cases,
        "tasks": len(PIPELINE["tasks"]),
        "passed": report["passed"],
        "wall_s": round(wall, 2),
        "cases_wall_s": report["wall_time"],
        "per_case_ms_median": round(statistics.median(per_case), 1),
        "per_case_ms_p95": round(sorted(per_case)[max(0, int(len(per_case) * 0.95) - 1)], 1),
        "virtual_h": round(virtual / 3600, 1),
    }
    log(
        f"  {cases} cases: {result['wall_s']} s in all ({result['cases_wall_s']} s running cases), "
        f"per case median {result['per_case_ms_median']} ms, {result['virtual_h']} h of virtual time"
    )
    return result
