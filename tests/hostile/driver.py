"""Run ``gleitzeit validate FILE`` on many files, each in a fork of one warm interpreter.

``python -m tests.hostile.driver FILE...`` prints one JSON line per file: its exit status, wall
seconds, the child's peak RSS (``wait4``'s ``ru_maxrss``) and its stdout and stderr. Importing the CLI
costs ~1 s; forking after it makes each file cost what validating it costs, so a corpus of 50 files
runs in a few seconds. Each child gets an address-space limit of its parent's size + 1 GiB and an
alarm of 20 s, so a regression (a bomb that expands again) fails its file instead of the machine.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import sys
import tempfile
import time
from pathlib import Path

HEADROOM = 1024**3
ALARM_SECONDS = 20


def _vm_size() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _run_one(cli_main: object, path: str, workdir: str) -> dict[str, object]:
    out, err = os.path.join(workdir, "out"), os.path.join(workdir, "err")
    sys.stdout.flush()
    sys.stderr.flush()
    limit = _vm_size() + HEADROOM
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:  # the child: validate, exit through the CLI's own os._exit
        try:
            for fd, name in ((1, out), (2, err)):
                target = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
                os.dup2(target, fd)
                os.close(target)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
            signal.alarm(ALARM_SECONDS)
            sys.argv = ["gleitzeit", "validate", path]
            cli_main()  # type: ignore[operator]
        finally:
            os._exit(99)
    _, status, usage = os.wait4(pid, 0)
    seconds = time.perf_counter() - start
    with open(out, errors="replace") as fo, open(err, errors="replace") as fe:
        stdout, stderr = fo.read(), fe.read()
    return {
        "file": path,
        "exit": os.waitstatus_to_exitcode(status),
        "seconds": seconds,
        "max_rss_mb": usage.ru_maxrss / 1024,
        "stdout": stdout,
        "stderr": stderr,
    }


def main(paths: list[str]) -> None:
    # The CLI imports what a command needs inside the command, and builds each method's parameter
    # model on first use: do both once here, so that no child pays them again.
    import rich.console  # noqa: F401
    import rich.markup  # noqa: F401

    from gleitzeit.cli import main as cli_main  # warm: imported once, before any fork
    from gleitzeit.dsl.loader import load_workflow

    for example in ("hello_chain.yaml", "foreach.yaml", "python_data.yaml"):
        load_workflow(Path(__file__).resolve().parents[2] / "examples" / example)

    with tempfile.TemporaryDirectory() as workdir:
        for path in paths:
            print(json.dumps(_run_one(cli_main, path, workdir)), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
