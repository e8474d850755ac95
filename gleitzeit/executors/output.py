"""Turn what a script did (:class:`ScriptRun`) into a :class:`PythonResult` or a clear error.

The script contract (docs/python_scripts.md), in order:

1. killed by its timeout -> ``ScriptTimeout``; by the memory limit (or a ``MemoryError``) -> ``ScriptOOM``;
   any other non-zero exit -> ``ScriptError`` with the exit code and the stderr tail;
2. JSON written to ``$GLEITZEIT_RESULT_FILE`` is the result (bad JSON there -> ``ScriptBadOutput``);
3. else the whole stdout parsed as JSON;
4. else the last non-empty stdout line parsed as JSON (the lines before it become ``output``);
5. else stdout that looks like JSON (starts with ``{`` or ``[``) but does not parse -> ``ScriptBadOutput``;
6. else the stripped stdout text is the result (None when the script printed nothing).

Results larger than ``max_result_bytes`` fail (Temporal refuses payloads over 2 MiB); ``output`` is
cut to what is left of that budget.
"""

from __future__ import annotations

import json
from typing import Any

from gleitzeit.contracts.tasks import PythonResult
from gleitzeit.executors.base import (
    STDERR_TAIL_CHARS,
    CappedStream,
    ScriptRun,
    truncation_marker,
)
from gleitzeit.executors.errors import ScriptBadOutput, ScriptFailure, ScriptOOM, ScriptTimeout
from gleitzeit.executors.request import ScriptRequest

__all__ = ["interpret", "parse_stdout"]

# Exit status of a process killed by SIGKILL inside a container: the memory limit's OOM killer.
_SIGKILL_EXIT = 137
# stderr in an error *message* (the details carry STDERR_TAIL_CHARS).
_MESSAGE_TAIL_CHARS = 1500
_NO_RESULT = object()


def interpret(
    run: ScriptRun, request: ScriptRequest, result_file: bytes | None, module_result: bytes | None = None
) -> PythonResult:
    """The result of a finished attempt, or the :class:`ScriptFailure` that describes it.

    ``module_result``: the JSON of the script's module-level ``result`` variable (the original
    Gleitzeit's convention, see gleitzeit.executors.script_main); it is the result only when the
    script wrote no result file and printed no JSON as its last line.
    """
    stderr_tail = run.stderr.last_chars(STDERR_TAIL_CHARS) or None
    where = f"script {request.source_name} (task '{request.task_id}', {run.executor} executor)"

    def fail(cls: type[ScriptFailure], message: str) -> ScriptFailure:
        if stderr_tail:
            short = stderr_tail[-_MESSAGE_TAIL_CHARS:]
            message += "\n--- stderr (end) ---\n" + short.rstrip()
        return cls(
            message,
            exit_code=run.exit_code,
            stderr_tail=stderr_tail,
            executor=run.executor,
            task_id=request.task_id,
        )

    if run.timed_out:
        raise fail(ScriptTimeout, f"{where} timed out after {request.timeout:g} s and was killed")
    if run.oom_killed or (run.executor == "docker" and run.exit_code == _SIGKILL_EXIT):
        raise fail(
            ScriptOOM,
            f"{where} ran out of memory (limit {_human_bytes(request.memory)}) and was "
            "killed; raise the task's 'memory' parameter or use less data at once",
        )
    if run.exit_code != 0:
        if stderr_tail and _last_line(stderr_tail).startswith("MemoryError"):
            raise fail(ScriptOOM, f"{where} ran out of memory (MemoryError, exit code {run.exit_code})")
        if run.exit_code is not None and run.exit_code < 0:
            raise fail(ScriptFailure, f"{where} was killed by signal {-run.exit_code}")
        raise fail(ScriptFailure, f"{where} failed with exit code {run.exit_code}")

    limit = request.max_result_bytes
    if result_file is not None:
        if len(result_file) > limit:
            raise fail(
                ScriptBadOutput,
                f"{where}: the result file is larger than {_human_bytes(limit)}; "
                "write large data to a file and return its path instead",
            )
        try:
            result: Any = json.loads(result_file)
        except ValueError as exc:
            raise fail(
                ScriptBadOutput, f"{where}: $GLEITZEIT_RESULT_FILE does not hold valid JSON ({exc})"
            ) from None
        output = run.stdout.text()
    else:
        try:
            result, output = parse_stdout(run.stdout, fallback=_module_value(module_result, limit))
        except ValueError as exc:
            raise fail(ScriptBadOutput, f"{where}: {exc}") from None

    result_size = len(json.dumps(result, default=str).encode())
    if result_size > limit:
        raise fail(
            ScriptBadOutput,
            f"{where}: the result is {_human_bytes(result_size)}, over the "
            f"{_human_bytes(limit)} limit for a task result; write large data to a "
            "file and return its path instead",
        )
    error = stderr_tail
    budget = limit - result_size - len((error or "").encode())
    return PythonResult(
        result=result,
        output=_fit(output, budget),
        stderr=error or "",
        exit_code=run.exit_code or 0,
        executor=run.executor,
        duration=round(run.duration, 3),
    )


def _module_value(data: bytes | None, limit: int) -> Any:
    if data is None or len(data) > limit:
        return _NO_RESULT
    return _loads_or(data.decode("utf-8", "replace"))


def parse_stdout(stdout: CappedStream, fallback: Any = None) -> tuple[Any, str]:
    """``(result, output)`` from stdout by the contract's steps 3-6; ValueError for bad output.

    ``fallback`` (the module-level ``result``, when the script left one) replaces what is not a
    JSON result: empty stdout, plain text, a huge stdout without a JSON last line.
    """
    if fallback is None:
        fallback = _NO_RESULT
    if not stdout.truncated:
        text = stdout.text()
        stripped = text.strip()
        if not stripped:
            return (None if fallback is _NO_RESULT else fallback), ""
        try:
            return json.loads(stripped), ""
        except ValueError:
            pass
        before, last = _split_last_line(text)
        if last is not None and last != stripped:
            value = _loads_or(last)
            if value is not _NO_RESULT:
                return value, before
        if fallback is not _NO_RESULT:
            return fallback, text
        if stripped[0] in "{[":
            raise ValueError(
                f"stdout looks like JSON but does not parse ({_json_error(stripped)}); "
                "print exactly one JSON document, or JSON on the last line"
            )
        return stripped, ""

    # Only the start and the end of a huge stdout were kept: the last line can still be the result,
    # if it is complete (the tail holds a line break before it).
    head, tail = stdout.head_text(), stdout.tail_text()
    before, last = _split_last_line(tail)
    if last is not None and "\n" in tail.rstrip("\r\n"):
        value = _loads_or(last)
        if value is not _NO_RESULT:
            return value, head + truncation_marker(stdout.dropped) + before
    if fallback is not _NO_RESULT:
        return fallback, head + truncation_marker(stdout.dropped) + tail
    raise ValueError(
        f"stdout is {_human_bytes(stdout.total)}, too large to be the result (kept "
        f"{_human_bytes(stdout.total - stdout.dropped)}); print the result as JSON on the last line or "
        "write it to $GLEITZEIT_RESULT_FILE"
    )


def _split_last_line(text: str) -> tuple[str, str | None]:
    lines = text.rstrip().splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        return "", None
    return "\n".join(lines[:-1]), lines[-1].strip()


def _last_line(text: str) -> str:
    return _split_last_line(text)[1] or ""


def _loads_or(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return _NO_RESULT


def _json_error(text: str) -> str:
    try:
        json.loads(text)
    except ValueError as exc:
        return str(exc)
    return "?"


def _fit(text: str, budget: int) -> str:
    data = text.encode()
    if len(data) <= budget:
        return text
    marker = truncation_marker(len(data) - max(budget - 100, 0))
    return data[: max(budget - 100, 0)].decode("utf-8", errors="ignore") + marker


def _human_bytes(value: int | str) -> str:
    n = float(value)
    for unit in ("bytes", "KiB", "MiB"):
        if n < 1024 or unit == "MiB":
            return f"{n:.0f} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GiB"
