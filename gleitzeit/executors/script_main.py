"""How a ``python/execute`` script starts: as ``__main__``, with the original Gleitzeit's globals.

The original Gleitzeit (0.0.5) ran a script with a global ``context`` (the task's ``context``) and
took the script's answer from a module-level ``result`` variable. Its example scripts rely on both
(``examples/scripts/generate_numbers.py``: ``result = {...}``, no output). So every script here gets
``context`` in its globals, and when it ends with a ``result`` variable, that value is saved beside
the result file (``module_result.json``); the executor uses it only when the script neither wrote
``$GLEITZEIT_RESULT_FILE`` nor printed JSON as its last line (gleitzeit.executors.output).

Run as a standalone file (``python script_main.py SCRIPT ARGS...``) by the local executor's plain
start and inside the Docker sandbox (copied into the workspace); the fork server's zygote loads it
by path and calls :func:`prepare` and :func:`save_module_result` itself. So: standard library only,
never an import of the ``gleitzeit`` package.
"""

from __future__ import annotations

import importlib.machinery
import json
import os
import signal
import sys
import types
from typing import Any

__all__ = ["MODULE_RESULT_FILE", "prepare", "run", "save_module_result"]

# Beside $GLEITZEIT_RESULT_FILE (the workspace makes it, writable, like the result file).
MODULE_RESULT_FILE = "module_result.json"


def prepare(namespace: dict[str, Any]) -> None:
    """Put the original's ``context`` global (the task's context, {} if none) into ``namespace``."""
    path = os.environ.get("GLEITZEIT_CONTEXT_FILE")
    context: Any = {}
    if path:
        try:
            with open(path, "rb") as f:
                context = json.loads(f.read() or b"{}")
        except (OSError, ValueError):
            context = {}
    namespace["context"] = context if context is not None else {}


def save_module_result(namespace: dict[str, Any]) -> None:
    """Save a module-level ``result`` (when it is JSON) beside the result file; else nothing."""
    if "result" not in namespace:
        return
    result_file = os.environ.get("GLEITZEIT_RESULT_FILE")
    if not result_file:
        return
    try:
        data = json.dumps(namespace["result"])
    except (TypeError, ValueError):
        return  # not JSON (a variable that happens to be called result): stdout decides as before
    try:
        with open(os.path.join(os.path.dirname(result_file), MODULE_RESULT_FILE), "w", encoding="utf-8") as f:
            f.write(data)
    except OSError:
        pass


def run(script: str, argv: list[str]) -> None:
    """Run ``script`` as ``python script ARGS`` would, with :func:`prepare`'s globals; exits."""
    sys.argv = [script, *argv]
    if hasattr(sys, "orig_argv"):  # as `python script ARGS` shows it (this starter is not the script)
        sys.orig_argv = [sys.orig_argv[0], script, *argv]
    sys.path[0] = os.path.dirname(os.path.abspath(script))
    main = types.ModuleType("__main__")
    main.__dict__.update(
        __annotations__={},
        __file__=script,
        __cached__=None,
        __builtins__=__builtins__,
        __loader__=importlib.machinery.SourceFileLoader("__main__", script),
    )
    sys.modules["__main__"] = main
    prepare(main.__dict__)
    with open(script, "rb") as f:
        source = f.read()
    try:
        exec(compile(source, script, "exec", dont_inherit=True), main.__dict__)
    except SystemExit as exc:
        if exc.code in (None, 0):
            save_module_result(main.__dict__)
        raise
    except BaseException as exc:  # noqa: BLE001 - reported as the interpreter would, without this frame
        # A syntax error is shown without frames (as `python script` shows it), the rest from the
        # script's first frame on.
        tb = None if isinstance(exc, SyntaxError) or exc.__traceback__ is None else exc.__traceback__.tb_next
        sys.excepthook(type(exc), exc.with_traceback(tb), tb)
        if isinstance(exc, KeyboardInterrupt):  # end by SIGINT, as the interpreter does
            sys.stdout.flush()
            sys.stderr.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        raise SystemExit(1) from None
    save_module_result(main.__dict__)


if __name__ == "__main__":
    run(sys.argv[1], sys.argv[2:])
