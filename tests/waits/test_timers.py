"""time/sleep, time/until and an approval's timeout on the time-skipping server (``PipelineTest``):
days of waiting pass in seconds, and the run's history holds one timer, no activity."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from rich.console import Console
from temporalio.testing import WorkflowEnvironment
from typer.testing import CliRunner

from gleitzeit.cli.app import app
from gleitzeit.cli.progress import print_changes, task_note
from gleitzeit.contracts.dag import TaskProgress, WorkflowProgress
from gleitzeit.testing import PipelineTest

pytestmark = pytest.mark.timeout(120)

DAY = 86400.0


def pipeline(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "waits.yaml"
    path.write_text(body)
    return path


async def test_a_three_day_sleep_is_skipped(time_skipping_env: WorkflowEnvironment, tmp_path: Path) -> None:
    path = pipeline(
        tmp_path,
        """
name: nap
tasks:
  - id: nap
    method: time/sleep
    parameters: {duration: 3d}
  - id: after
    method: python/execute
    dependencies: [nap]
    parameters: {code: "print(1)", context: {until: "${nap.until}"}}
outputs: {slept: "${nap.slept}"}
""",
    )
    async with PipelineTest(env=time_skipping_env) as t:
        t.scripts.result("after", {"ok": True})
        run = await t.run(str(path))
    assert run.status == "completed", run.error
    assert run.outputs == {"slept": 3 * DAY}
    assert run.virtual_time >= timedelta(days=3) and run.wall_time < 60
    nap = run.state("nap")
    assert nap is not None and nap.state == "completed" and nap.until is not None
    assert run.attempt_counts.get("nap", 0) == 0  # no activity ran for it
    history = await time_skipping_env.client.get_workflow_handle(run.workflow_id).fetch_history()
    kinds = [e.WhichOneof("attributes") for e in history.events]
    assert kinds.count("timer_started_event_attributes") == 1
    scheduled = [e for e in history.events if e.HasField("activity_task_scheduled_event_attributes")]
    assert [e.activity_task_scheduled_event_attributes.activity_id for e in scheduled] == ["after"]


async def test_until_a_time_from_an_input_and_one_passed(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path
) -> None:
    path = pipeline(
        tmp_path,
        """
name: until
inputs: {at: {type: string}}
tasks:
  - id: later
    method: time/until
    parameters: {at: "${inputs.at}"}
  - id: past
    method: time/until
    parameters: {at: "2001-01-01T00:00:00Z"}
""",
    )
    # The server's clock, not ours: earlier tests of the session skipped days ahead on it.
    at = (await time_skipping_env.get_current_time() + timedelta(days=2)).isoformat()
    async with PipelineTest(env=time_skipping_env) as t:
        run = await t.run(str(path), {"at": at})
        bad = await t.run(str(path), {"at": "tomorrow"})
    assert run.status == "completed", run.error
    assert run.results["past"]["slept"] == 0.0
    assert run.virtual_time >= timedelta(days=1, hours=23)
    assert bad.status == "failed" and bad.failed_task == "later"
    assert "invalid parameter 'at'" in (bad.error or "") and "ISO 8601" in (bad.error or "")


APPROVAL = """
name: approval
tasks:
  - id: ok
    method: human/approval
    parameters: {{prompt: "Ship it?", timeout: 2d, on_timeout: {on_timeout}}}
  - id: after
    method: time/sleep
    dependencies: [ok]
    parameters: {{duration: 1s}}
"""


@pytest.mark.parametrize("on_timeout", ["fail", "approve", "reject"])
async def test_an_approval_nobody_answers_times_out(
    time_skipping_env: WorkflowEnvironment, tmp_path: Path, on_timeout: str
) -> None:
    path = pipeline(tmp_path, APPROVAL.format(on_timeout=on_timeout))
    async with PipelineTest(env=time_skipping_env) as t:
        run = await t.run(str(path))
    assert run.virtual_time >= timedelta(days=2)
    if on_timeout == "approve":
        assert run.status == "completed", run.error
        result = run.results["ok"]
        assert result["approved"] is True and result["timed_out"] is True and result["by"] is None
        assert "no answer within 2d" in result["reason"]
        return
    assert run.status == "failed" and run.failed_task == "ok"
    expected = "rejected by timeout: no answer within 2d" if on_timeout == "reject" else "no answer within 2d"
    assert expected in (run.error or "")
    after = run.state("after")
    assert after is not None and after.state == "pending"  # the run stopped at the failure


def test_validate_locates_a_bad_duration_and_warns_of_an_approval_without_timeout(tmp_path: Path) -> None:
    path = pipeline(
        tmp_path,
        """name: bad
tasks:
  - id: nap
    method: time/sleep
    parameters: {duration: 5 parsecs}
  - id: ask
    method: human/approval
    parameters: {prompt: "Ship ${nap.until}?"}
""",
    )
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    assert f"{path}:5:28: task 'nap', key 'parameters.duration': '5 parsecs' is not a duration" in (
        result.output.replace("'duration': ", "")
    )
    path.write_text(path.read_text().replace("5 parsecs", "5m"))
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0, result.output
    assert f"{path}:6: warning: task 'ask', key 'parameters': this approval has no timeout" in result.output


def test_the_run_progress_shows_a_waiting_approval_and_how_to_answer_it() -> None:
    now = datetime(2026, 12, 24, 6, 0, tzinfo=UTC)
    tasks = [
        TaskProgress(task_id="ask", method="human/approval", state="waiting", prompt="Ship it?", until=now),
        TaskProgress(task_id="nap", method="time/sleep", state="waiting", until=now),
    ]
    progress = WorkflowProgress(workflow_id="wf-1", name="p", total=2, waiting=2, tasks=tasks)
    console = Console(file=io.StringIO(), width=200)
    print_changes(console)(progress)
    lines = console.file.getvalue().splitlines()  # type: ignore[attr-defined]
    assert lines == [
        "[0/2] ask: waiting (Ship it? (answer: gleitzeit approve wf-1 ask [--reject]))",
        "[0/2] nap: waiting (until 2026-12-24T06:00:00+00:00)",
    ]
    assert task_note(progress, tasks[0]).startswith("Ship it?")
