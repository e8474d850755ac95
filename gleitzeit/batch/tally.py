"""What BatchWorkflow keeps of each file's outcome, and what it reports: the counters, inline results
and errors in ``BatchState``, the final ``BatchResult`` with its warnings, and the web UI's details line.

Pure functions of the state (deterministic, no I/O): the workflow calls them as files finish.
"""

from __future__ import annotations

from typing import Any, Protocol

from gleitzeit.contracts.batch import BatchInput, BatchResult, BatchState

__all__ = [
    "MAX_ERRORS",
    "MAX_ERROR_CHARS",
    "MAX_INLINE_BYTES",
    "FileSummary",
    "batch_result",
    "details_text",
    "record_error",
    "record_result",
]

# Errors kept by file name; beyond this only the count grows (the state crosses continue-as-new).
MAX_ERRORS = 100
MAX_ERROR_CHARS = 500
# Inline results carried in the state and returned: well under the 2 MiB payload limit.
MAX_INLINE_BYTES = 1_000_000


class FileSummary(Protocol):
    """What a file's success reports to the workflow (``BatchFileResult``, ``BatchFileOutcome``)."""

    @property
    def status(self) -> str: ...
    @property
    def value(self) -> Any: ...
    @property
    def has_value(self) -> bool: ...
    @property
    def value_bytes(self) -> int: ...
    @property
    def spilled(self) -> bool: ...


def record_result(s: BatchState, inline_results_limit: int, file: str, result: FileSummary) -> None:
    """Count a finished file; keep its value inline while the batch is small and the budget lasts."""
    s.completed += 1
    if result.status == "skipped_existing":
        s.skipped_existing += 1
    if s.total > inline_results_limit:
        return
    if result.spilled:
        s.spilled += 1  # too large to carry: the activity wrote it to spill_dir instead
        return
    if not result.has_value:
        s.results_truncated = True
        return
    size = result.value_bytes
    if s.inline_bytes + size > MAX_INLINE_BYTES:
        s.results_truncated = True
        return
    s.inline_bytes += size
    s.results[file] = result.value


def record_error(s: BatchState, file: str, error_type: str, message: str, attempts: int | None) -> None:
    """Count a failed file; keep its error for the first ``MAX_ERRORS``."""
    s.failed += 1
    if len(s.errors) < MAX_ERRORS:
        text = f"{error_type}: {message}" + (f" (after {attempts} attempts)" if attempts else "")
        s.errors[file] = text[:MAX_ERROR_CHARS]


def batch_result(s: BatchState, inp: BatchInput, workflow_id: str) -> BatchResult:
    """The finished batch's result, with a warning for everything the user would otherwise miss."""
    warnings: list[str] = []
    if s.total == 0:
        warnings.append(
            f"no file in '{inp.directory}' matches '{inp.pattern}' (the pattern is case-sensitive; "
            "'**/*.txt' searches subfolders too)"
        )
    if s.failed > len(s.errors):
        warnings.append(f"{s.failed} files failed; errors are kept for the first {len(s.errors)}")
    if s.results_dir and not inp.output_dir:
        warnings.append(
            f"{s.total} files are more than inline_results_limit ({inp.inline_results_limit}): "
            f"the results were written to {s.results_dir}"
        )
    elif s.results_truncated and s.results_dir:
        warnings.append(
            f"not every result fits in the batch result (about {MAX_INLINE_BYTES // 1000} kB); "
            f"every file's result is in {s.results_dir}"
        )
    if s.spilled and not s.results_dir:
        warnings.append(f"{s.spilled} results too large to return inline were written to {s.spill_dir}")
    output_dir = s.results_dir or (s.spill_dir if s.spilled else None)
    return BatchResult(
        workflow_id=workflow_id,
        name=inp.name,
        total=s.total,
        completed=s.completed,
        failed=s.failed,
        skipped_existing=s.skipped_existing,
        output_dir=output_dir,
        results=dict(s.results),
        errors=dict(s.errors),
        results_truncated=s.results_truncated,
        runs=s.runs,
        status="partial" if s.failed else "completed",
        warnings=warnings,
    )


def details_text(s: BatchState, name: str, status: str, in_flight: int, chunks: int) -> str:
    """Live progress for the web UI's 'current details' (``status``: the state, or a note)."""
    done = s.completed + s.failed
    running = f"{in_flight} running" + (f" in {chunks} chunks" if chunks > 1 else "")
    line = f"{done:,}/{s.total:,} files, {running}, {s.failed:,} failed"
    if s.skipped_existing:
        line += f", {s.skipped_existing:,} already done"
    lines = [f"**{name}**: {status}", line]
    if s.runs > 1:
        lines.append(f"run {s.runs} (continue-as-new)")
    if s.results_dir:
        lines.append(f"output: `{s.results_dir}`")
    return "\n\n".join(lines)
