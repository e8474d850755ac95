"""`gleitzeit` command line: validate, run, test, worker, dev, llm serve, ...

Each sub-command lives in a module named for it and registers itself on ``app``. Every start
imports all of them (typer builds the whole command tree, also for ``gleitzeit --help``), so a command
module imports at its top only what its options need (typer, rich, constants); what the command does
(Temporal's client, the worker, Docker, the dsl) is imported inside the command function. A test
(tests/cli/test_cli_imports.py) pins that `import gleitzeit.cli` and `gleitzeit validate` stay clear of
temporalio's client, docker and the batch code.
"""

from __future__ import annotations

import os
import sys

from gleitzeit.cli.app import app
from gleitzeit.core.errors import GleitzeitError

# Sub-command modules register themselves on import.
from gleitzeit.cli import validate as _validate  # noqa: F401,E402  isort: skip
from gleitzeit.cli import llm as _llm  # noqa: F401,E402  isort: skip
from gleitzeit.cli import run as _run  # noqa: F401,E402  isort: skip
from gleitzeit.cli import worker as _worker  # noqa: F401,E402  isort: skip
from gleitzeit.cli import dev as _dev  # noqa: F401,E402  isort: skip
from gleitzeit.cli import status as _status  # noqa: F401,E402  isort: skip
from gleitzeit.cli import list as _list  # noqa: F401,E402  isort: skip
from gleitzeit.cli import result as _result  # noqa: F401,E402  isort: skip
from gleitzeit.cli import cancel as _cancel  # noqa: F401,E402  isort: skip
from gleitzeit.cli import approve as _approve  # noqa: F401,E402  isort: skip
from gleitzeit.cli import schedule as _schedule  # noqa: F401,E402  isort: skip
from gleitzeit.cli import resume as _resume  # noqa: F401,E402  isort: skip
from gleitzeit.cli import chat as _chat  # noqa: F401,E402  isort: skip
from gleitzeit.cli import batch as _batch  # noqa: F401,E402  isort: skip
from gleitzeit.cli import serve as _serve  # noqa: F401,E402  isort: skip
from gleitzeit.cli import files as _files  # noqa: F401,E402  isort: skip
from gleitzeit.cli import test as _test  # noqa: F401,E402  isort: skip

__all__ = ["app", "main"]

# Commands that never talk to Temporal: they start without importing the SDK's runtime.
_WITHOUT_TEMPORAL = frozenset({"validate"})


def _report(exc: Exception) -> int:
    """Exit code for an exception that escaped a command, printed without a traceback.

    typer ships its own copy of click, so its usage errors, Exit and Abort are matched by shape (an
    ``exit_code`` and ``show()``, or the class name), not by importing click's classes.
    """
    name = type(exc).__name__
    if name == "Abort":
        print("interrupted", file=sys.stderr)
        return 130
    if hasattr(exc, "exit_code"):
        if hasattr(exc, "show"):
            exc.show()
        return int(exc.exit_code)
    if os.environ.get("GLEITZEIT_DEBUG"):
        import traceback

        traceback.print_exc()
    print(
        f"error: unexpected {name}: {exc}\n(set GLEITZEIT_DEBUG=1 for the traceback, and please report it)",
        file=sys.stderr,
    )
    return 1


def _without_temporal(args: list[str]) -> bool:
    """Whether the command line asks for help or a command that never talks to Temporal."""
    first = next((a for a in args if not a.startswith("-")), None)
    return first is None or first in _WITHOUT_TEMPORAL or "--help" in args


def main() -> None:
    """Console entry point.

    Exits through ``os._exit`` after flushing: a process that ran a Temporal worker can crash in
    interpreter teardown (SDK issue #300), which must not turn a finished command into exit 134.
    """
    if not _without_temporal(sys.argv[1:]):
        from gleitzeit.services.connection import forward_core_logs

        forward_core_logs()  # the SDK's log lines go to stderr, never into a command's stdout
    try:
        result = app(standalone_mode=False)
        rc = result if isinstance(result, int) else 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        rc = 130
    except GleitzeitError as exc:
        # Our errors are written for people: no traceback.
        print(f"error: {exc}", file=sys.stderr)
        rc = 1
    except Exception as exc:
        rc = _report(exc)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(rc)
