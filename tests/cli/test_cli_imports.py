"""A command starts by importing what it uses, nothing more (issue 24: `gleitzeit validate` and
`gleitzeit --help` within 3x of ``python -c "import yaml, pydantic"``; bench row 9 measures it).

Each case is a fresh interpreter: what it lists in ``sys.modules`` after the command is what the
command paid for at start. Times are never asserted here; the imports that make them are.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.cli_start import FIVE_TASKS

ROOT = Path(__file__).resolve().parents[2]
# Temporal's SDK, Docker's client, the batch engine, the HTTP stack and the MCP SDK: none is needed
# to print help or check a file. pydantic-settings too: the dsl reads its limits without it
# (gleitzeit.core.limits), which saves `gleitzeit validate` about a tenth of a second.
HEAVY = (
    "temporalio",
    "temporalio.client",
    "docker",
    "gleitzeit.batch",
    "gleitzeit.client.client",
    "httpx",
    "fastapi",
    "mcp",
    "pydantic_settings",
)
# Runs a gleitzeit command in this interpreter and, as the CLI exits (through os._exit, which skips
# atexit), prints which of HEAVY it imported: a wrapper around os._exit, not a double of the CLI.
DRIVER = """\
import json, os, sys
heavy = json.loads(sys.argv.pop(1))
real_exit = os._exit
def exit_(rc):
    sys.stdout.flush()
    sys.stderr.write("IMPORTED " + json.dumps([m for m in heavy if m in sys.modules]) + "\\n")
    sys.stderr.flush()
    real_exit(rc)
os._exit = exit_
from gleitzeit.cli import main
main()
"""


def _run(*args: str) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1"}
    proc = subprocess.run(
        [sys.executable, "-c", DRIVER, json.dumps(HEAVY), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    marker = [line for line in proc.stderr.splitlines() if line.startswith("IMPORTED ")]
    assert marker, proc.stderr[-2000:]
    return proc, json.loads(marker[-1].removeprefix("IMPORTED "))


def test_importing_the_package_and_the_cli_imports_nothing_heavy() -> None:
    code = (
        "import json, sys, gleitzeit, gleitzeit.cli, gleitzeit.core.errors; "
        f"print(json.dumps([m for m in {list(HEAVY)!r} if m in sys.modules]))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == []


def test_help_lists_every_command_with_its_help_and_imports_nothing_heavy() -> None:
    from gleitzeit.cli import app

    proc, imported = _run("--help")
    assert proc.returncode == 0, proc.stderr
    assert imported == []
    for info in app.registered_commands:
        name = info.name or (info.callback.__name__ if info.callback else "")
        first_line = (info.callback.__doc__ or "").strip().split("\n")[0] if info.callback else ""
        assert name in proc.stdout, name
        # The start of each command's help (rich may wrap the rest onto the next line).
        assert first_line[:30] in proc.stdout, (name, first_line)
    for group in app.registered_groups:
        assert group.name in proc.stdout


@pytest.mark.parametrize("args", [["validate"], ["validate", "--json"]], ids=["text", "json"])
def test_validate_of_a_five_task_file_imports_nothing_heavy(tmp_path: Path, args: list[str]) -> None:
    pipeline = tmp_path / "five.yaml"
    pipeline.write_text(FIVE_TASKS)
    proc, imported = _run(*args, str(pipeline))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert imported == []
    if "--json" in args:
        assert json.loads(proc.stdout)[0]["tasks"] == 5
    else:
        assert f"{pipeline}: ok (5 tasks)" in proc.stdout


def test_validate_knows_test_files_by_the_test_readers_suffix() -> None:
    from gleitzeit.cli.validate import TEST_SUFFIX
    from gleitzeit.testing import testfile

    assert TEST_SUFFIX == testfile.TEST_SUFFIX
