"""Workspaces of a killed worker are removed by the next worker; a live worker's never are.

Real processes: a "worker" that makes a workspace (on a stand-in RAM disk, its TMPDIR/HOME in a
stand-in temporary folder) and is then SIGKILLed, one that stays alive, and this test's own process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from gleitzeit.config import Settings
from gleitzeit.executors import base
from gleitzeit.executors.leftovers import owner_tag, sweep_stale_workspaces
from gleitzeit.executors.request import ScriptRequest

_MAKE_WORKSPACE = """
import json, sys, tempfile, time
from pathlib import Path
from gleitzeit.config import Settings
from gleitzeit.executors import base
from gleitzeit.executors.request import ScriptRequest
base._RAM_DISK = Path(sys.argv[1])
tempfile.tempdir = sys.argv[2]
request = ScriptRequest.from_parameters({"executor": "local", "code": "print(1)"}, settings=Settings(), task_id="t")
ws = base.Workspace.create(request)
print(json.dumps([str(ws.root), str(ws.scratch)]), flush=True)
time.sleep(600)
"""


@pytest.fixture
def places(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path]]:
    ram, temp = tmp_path / "ram", tmp_path / "temp"
    ram.mkdir()
    temp.mkdir()
    monkeypatch.setattr(base, "_RAM_DISK", ram)
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    monkeypatch.delenv("TMPDIR", raising=False)
    yield ram, temp


def _worker(ram: Path, temp: Path) -> tuple[subprocess.Popen[str], list[Path]]:
    env = {k: v for k, v in os.environ.items() if k != "TMPDIR"}
    proc = subprocess.Popen(
        [sys.executable, "-c", _MAKE_WORKSPACE, str(ram), str(temp)],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    return proc, [Path(p) for p in json.loads(proc.stdout.readline())]


def test_a_killed_workers_workspaces_go_a_live_ones_stay(places: tuple[Path, Path]) -> None:
    ram, temp = places
    killed, killed_folders = _worker(ram, temp)
    live, live_folders = _worker(ram, temp)
    try:
        killed.send_signal(signal.SIGKILL)
        killed.wait(10)
        ours = base.Workspace.create(
            ScriptRequest.from_parameters(
                {"executor": "local", "code": "print(1)"}, settings=Settings(), task_id="t"
            )
        )
        assert ours.root.parent == ram and ours.scratch is not None and ours.scratch.parent == temp
        assert ours.root.name.startswith(f"gleitzeit-script-{owner_tag()}-")
        # Another pid namespace (another container sharing the folder): its pids mean nothing here.
        foreign = ram / f"gleitzeit-script-1-{killed.pid}-abc"
        foreign.mkdir()
        unrelated = temp / "gleitzeit-script-abc"  # made before folders were named for their owner
        unrelated.mkdir()
        assert all(p.is_dir() for p in killed_folders)

        assert sweep_stale_workspaces([ram, temp]) == 2
        assert not any(p.exists() for p in killed_folders)
        assert all(p.is_dir() for p in [*live_folders, ours.root, ours.scratch, foreign, unrelated])
        assert sweep_stale_workspaces([ram, temp]) == 0
        ours.remove()
    finally:
        live.kill()
        live.wait(10)
    # Its owner gone, the live worker's workspace is a leftover too.
    assert sweep_stale_workspaces([ram, temp]) == 2
    assert not any(p.exists() for p in live_folders)


def test_missing_places_are_no_error(tmp_path: Path) -> None:
    assert sweep_stale_workspaces([tmp_path / "nowhere"]) == 0
