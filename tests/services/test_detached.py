"""start_detached: one way to start a background process and wait until it answers, with clear errors."""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from gleitzeit.core.errors import ServiceUnavailableError
from gleitzeit.services.detached import log_tail, start_detached, stop_process
from gleitzeit.services.temporal_dev import temporal_serving
from tests.helpers import free_port


def _start(code: str, log: Path, ready: Callable[[], bool], timeout: float = 10.0) -> subprocess.Popen[bytes]:
    return start_detached(
        [sys.executable, "-c", code],
        log_file=log,
        ready=ready,
        what="the test process",
        where="nowhere:1",
        error=ServiceUnavailableError,
        timeout=timeout,
        stop_grace=2.0,
    )


def test_returns_the_running_process_once_ready(tmp_path: Path) -> None:
    marker = tmp_path / "up"
    code = f"import pathlib, time; pathlib.Path({str(marker)!r}).touch(); time.sleep(60)"
    process = _start(code, tmp_path / "logs" / "p.log", marker.exists)
    try:
        assert process.poll() is None
    finally:
        stop_process(process, 2.0)
    assert process.poll() is not None


def test_a_process_that_dies_names_its_log_and_quotes_the_tail(tmp_path: Path) -> None:
    log = tmp_path / "p.log"
    code = "import sys; print('line one'); print('cannot bind the port', flush=True); sys.exit(3)"
    with pytest.raises(ServiceUnavailableError) as caught:
        _start(code, log, lambda: False)
    message = str(caught.value)
    assert "the test process exited with code 3 while starting" in message
    assert str(log) in message and "cannot bind the port" in message


def test_a_process_that_never_answers_is_stopped_at_the_deadline(tmp_path: Path) -> None:
    log = tmp_path / "p.log"
    pid_file = tmp_path / "pid"
    code = (
        f"import os, time; open({str(pid_file)!r}, 'w').write(str(os.getpid())); "
        "print('waiting', flush=True); time.sleep(60)"
    )
    started = time.monotonic()
    with pytest.raises(ServiceUnavailableError) as caught:
        _start(code, log, lambda: False, timeout=1.0)
    assert time.monotonic() - started < 10
    message = str(caught.value)
    assert "did not answer at nowhere:1 within 1 s" in message and "waiting" in message
    assert not Path(f"/proc/{int(pid_file.read_text())}").exists()  # stopped and reaped


def test_log_tail_of_a_missing_file_is_empty(tmp_path: Path) -> None:
    assert log_tail(tmp_path / "missing.log") == ""


def test_the_temporal_probe_says_no_where_nothing_listens() -> None:
    assert temporal_serving(f"127.0.0.1:{free_port()}", timeout=1.0) is False
