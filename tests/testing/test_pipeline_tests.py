"""Users' pipeline tests: ``gleitzeit test`` on *.test.yaml files, ``PipelineTest``, the pytest plugin.

The CLI runs in-process (typer's runner), each invocation on its own time-skipping server; the
``PipelineTest`` tests share the session's. Pipelines and test files: tests/data/testing/.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from gleitzeit.cli.app import app
from gleitzeit.core.errors import ValidationError
from gleitzeit.testing import PipelineTest

pytestmark = pytest.mark.timeout(120)

DATA = Path(__file__).parent.parent / "data" / "testing"
HOUR = 3600.0


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["test", *args])
    return result.exit_code, result.output


def test_cases_pass_with_hours_of_backoff_skipped(tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    code, out = cli(
        str(DATA / "summarise.test.yaml"), str(DATA / "timeout.test.yaml"), "--json", "--junit", str(junit)
    )
    report = json.loads(out[out.index("{") :])
    assert code == 0, out
    cases = {c["case"]: c for c in report["cases"]}
    assert report["passed"] == 3 and report["failed"] == 0
    # Two retries after fixed 2 h backoffs; three more after 2 h each; the whole run's 3 h timeout.
    retried = cases["retries with hours of backoff pass in virtual time"]
    assert retried["virtual_time"] >= 4 * HOUR and retried["wall_time"] < 10
    assert cases["a run that exhausts its retries fails"]["virtual_time"] >= 6 * HOUR
    assert cases["timeout"]["status"] == "timed_out" and cases["timeout"]["virtual_time"] >= 3 * HOUR
    xml = junit.read_text()
    assert 'tests="3"' in xml and 'failures="0"' in xml and "retries with hours of backoff" in xml


def test_failures_name_the_output_the_task_and_the_missing_llm_entry() -> None:
    code, out = cli(str(DATA / "failing.test.yaml"), str(DATA / "unscripted.test.yaml"))
    assert code == 1, out
    assert "FAIL " in out and "0 passed, 2 failed" in out
    assert 'outputs.title: expected "On Rivers", got "Wrong"' in out
    assert "attempts.write: expected 2, got 1" in out
    # The unscripted call names the task, its prompt and the entry to add.
    assert "task 'title' (llm/chat) made an LLM call that no llm: entry answers" in out
    assert "'A title for: Rivers flow to the sea'" in out and "{task: title, reply:" in out


def test_invalid_test_files_are_located_and_exit_2(tmp_path: Path) -> None:
    code, out = cli(str(DATA / "invalid.test.yaml"))
    assert code == 2, out
    where = str(DATA / "invalid.test.yaml")
    assert (
        f"{where}:3:11: key 'llm[0].task': the pipeline has no task 'wirte' (hint: did you mean 'write'?)"
        in out
    )
    assert f"{where}:5:12: key 'llm[1].match': '(unclosed' is not a valid regular expression" in out
    assert (
        f"{where}:9:3: key 'expect.outptus': unknown expect key 'outptus' (hint: did you mean 'outputs'?)"
        in out
    )
    missing = tmp_path / "nowhere.test.yaml"
    assert cli(str(missing))[0] == 2
    assert cli(str(tmp_path))[0] == 2  # no test files at all: not a pass


async def test_pipeline_test_api(time_skipping_env: WorkflowEnvironment) -> None:
    async with PipelineTest(env=time_skipping_env) as t:
        t.llm.reply("write", "Rivers flow to the sea", fail=2)
        t.llm.reply(match="^A title for", reply={"title": "On Rivers"})
        t.scripts.result("fetch", {"rows": 3})
        run = await t.run(DATA / "summarise.yaml", {"topic": "rivers"})
        assert run.status == "completed", run.error
        assert run.outputs == {"words": 5, "title": "On Rivers", "rows": 3}
        assert (run.attempts("write"), run.attempts("count"), run.attempts("optional_task")) == (3, 1, 0)
        assert run.skipped == ["optional_task"] and run.virtual_time >= timedelta(hours=4)

        t.reset()
        t.llm.fail("write", message="LLM server error 503")
        t.scripts.result("fetch", {"rows": 3})
        failed = await t.run(DATA / "summarise.yaml")
        assert failed.status == "failed" and failed.failed_task == "write"
        assert failed.error == "LLM server error 503" and failed.attempts("write") == 4
        with pytest.raises(ValidationError, match="unknown input 'topik'"):
            await t.run(DATA / "summarise.yaml", {"topik": "x"})


def test_pytest_plugin_collects_yaml_cases(tmp_path: Path) -> None:
    for name in ("summarise.yaml", "summarise.test.yaml", "failing.test.yaml", "invalid.test.yaml"):
        shutil.copy(DATA / name, tmp_path / name)
    (tmp_path / "pytest.ini").write_text("[pytest]\nasyncio_default_fixture_loop_scope = function\n")
    # No -p: the plugin comes from the package's pytest11 entry point, as it does for users.
    args = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [
            *args,
            "-c",
            str(tmp_path / "pytest.ini"),
            "--rootdir",
            str(tmp_path),
            str(tmp_path),
            "-q",
            "--continue-on-collection-errors",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert "1 failed, 2 passed, 1 error" in out, out
    assert "outputs.title: expected" in out and "did you mean 'write'?" in out
