"""A minimal W3C WebDriver client (httpx) for Debian's headless Chromium + chromedriver.

Enough for one page: open a URL, read the rendered DOM, take a screenshot. No driver manager, no
download: the binaries are given by path (scripts/setup_chromium.sh installs them).
"""

from __future__ import annotations

import base64
import contextlib
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import free_port

__all__ = ["CHROMIUM_ARGS", "Browser", "browser"]

# FACTS.md: what a headless Chromium needs here (no sandbox as root, nothing phoning home).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1400,1300",
]


class Browser:
    """One WebDriver session."""

    def __init__(self, http: httpx.Client, session_id: str) -> None:
        self._http = http
        self._base = f"/session/{session_id}"

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        answer = self._http.request(method, self._base + path, json=body)
        value = answer.json().get("value")
        if answer.status_code >= 400:
            raise RuntimeError(f"WebDriver {method} {path}: {answer.status_code} {value}")
        return value

    def open(self, url: str) -> None:
        self._call("POST", "/url", {"url": url})

    def page_text(self) -> str:
        """The visible text of the rendered page (what a user reads)."""
        return str(
            self._call("POST", "/execute/sync", {"script": "return document.body.innerText", "args": []})
        )

    def page_source(self) -> str:
        return str(self._call("GET", "/source"))

    def scroll_to_heading(self, title: str) -> None:
        """Scroll the first heading (h1-h3) whose text is ``title`` to the top of the view, if any."""
        script = (
            "const h = [...document.querySelectorAll('h1,h2,h3')].find(e => e.textContent.trim() === arguments[0]);"
            "if (h) { h.scrollIntoView({block: 'start'}); } return !!h;"
        )
        self._call("POST", "/execute/sync", {"script": script, "args": [title]})

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(self._call("GET", "/screenshot")))

    def wait_for_text(self, needles: list[str], timeout: float = 60.0) -> str:
        """The page text once every needle appears in it; the last text seen when time runs out."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.page_text()
            if all(n in text for n in needles):
                return text
            time.sleep(0.5)
        return text


def _driver_ready(port: int) -> bool:
    """chromedriver's own readiness: ``GET /status`` says ``ready`` (W3C WebDriver)."""
    try:
        answer = httpx.get(f"http://127.0.0.1:{port}/status", timeout=2)
        return answer.status_code == 200 and bool(answer.json().get("value", {}).get("ready"))
    except (httpx.HTTPError, ValueError):
        return False


@contextlib.contextmanager
def browser(chromium: str, chromedriver: str, log_file: Path) -> Iterator[Browser]:
    """chromedriver on a free port with one headless Chromium session (fresh profile); all ended on exit."""
    port = free_port()
    with open(log_file, "wb") as log:
        driver = subprocess.Popen(
            [chromedriver, f"--port={port}"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    profile = tempfile.mkdtemp(prefix="gleitzeit-chromium-")
    try:
        deadline = time.monotonic() + 30
        while not _driver_ready(port):
            if driver.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"chromedriver did not start: {log_file.read_text(errors='replace')[-2000:]}"
                )
            time.sleep(0.1)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as http:
            options = {"binary": chromium, "args": [*CHROMIUM_ARGS, f"--user-data-dir={profile}"]}
            answer = http.post(
                "/session",
                json={
                    "capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": options}}
                },
            )
            value = answer.json()["value"]
            if answer.status_code >= 400:
                raise RuntimeError(f"chromedriver refused the session: {value}")
            session = Browser(http, value["sessionId"])
            try:
                yield session
            finally:
                with contextlib.suppress(httpx.HTTPError):
                    http.delete(f"/session/{value['sessionId']}")
    finally:
        driver.terminate()
        try:
            driver.wait(timeout=10)
        except subprocess.TimeoutExpired:
            driver.kill()
            driver.wait()
        import shutil

        shutil.rmtree(profile, ignore_errors=True)
