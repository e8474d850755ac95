"""The Temporal web UI shows a finished run with the pipeline's own task names (headless Chromium).

The run's event history must show each task's activity summary (``<task>: <method>``) and the run's
static summary; the screenshot of its timeline is kept in artifacts/web_ui.png (CI keeps artifacts/).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.deploy.conftest import DevServer, FinishedRun
from tests.deploy.webdriver import browser
from tests.helpers import require

pytestmark = [pytest.mark.temporal, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def _binaries() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    chromedriver = shutil.which("chromedriver")
    require(
        chromium is not None and chromedriver is not None,
        "headless Chromium with chromedriver",
        "run scripts/setup_chromium.sh as root (Debian packages chromium, chromium-driver)",
    )
    assert chromium is not None and chromedriver is not None
    return chromium, chromedriver


def test_web_ui_shows_the_pipelines_tasks(
    dev_server: DevServer, finished_run: FinishedRun, tmp_path: Path
) -> None:
    chromium, chromedriver = _binaries()
    expected = [
        finished_run.workflow_id,
        f"{finished_run.pipeline} (3 tasks)",  # the static summary
        *(f"{task}: python/execute" for task in finished_run.task_ids),  # activity summaries
    ]
    run_page = dev_server.ui_url + finished_run.ui_path
    with browser(chromium, chromedriver, tmp_path / "chromedriver.log") as page:
        page.open(run_page)
        text = page.wait_for_text(expected)
        missing = [t for t in expected if t not in text]
        # The timeline draws the same summaries as bars: the picture a user looks at.
        page.open(run_page.removesuffix("/history") + "/timeline")
        page.wait_for_text([f"{finished_run.task_ids[0]}: python/execute"], timeout=30)
        page.scroll_to_heading("Timeline")
        page.screenshot(ARTIFACTS / "web_ui.png")
    assert not missing, f"not on the rendered page {run_page}: {missing}\npage text:\n{text[:3000]}"
