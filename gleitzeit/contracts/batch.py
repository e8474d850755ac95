"""Input, state and result of the durable batch workflow (``batch_process`` and the YAML batch form).

Files are listed and read inside activities; the workflow only carries file names, a cursor and
counters, so a batch of 100,000 files never pushes its contents through the history. Each file's
result is written to ``output_dir`` by the activity that produced it; the workflow result holds
counts and, for small batches, the results themselves.

Where results go:

- ``output_dir`` given: ``<output_dir>/<relative path>.json`` per file (see ``BatchFileResult``), and
  inline in ``BatchResult.results`` for batches of at most ``inline_results_limit`` files;
- no ``output_dir``, small batch: inline only (a value too large to carry inline is written under
  ``<data_dir>/batches/<workflow id>/`` instead, and the result says so);
- no ``output_dir``, large batch: under ``<data_dir>/batches/<workflow id>/`` (``BatchResult.output_dir``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from gleitzeit.contracts.spec import RetrySpec
from gleitzeit.core.files import PATH_PATTERN
from gleitzeit.core.limits import MAX_PARALLEL_LIMIT
from gleitzeit.core.units import MAX_DURATION_SECONDS

__all__ = [
    "DEFAULT_FILES_PER_RUN",
    "BatchChunkInput",
    "BatchChunkResult",
    "BatchCleanupInput",
    "BatchFileCommon",
    "BatchFileInput",
    "BatchFileOutcome",
    "BatchFileResult",
    "BatchInput",
    "BatchListInput",
    "BatchListing",
    "BatchOptions",
    "BatchPageInput",
    "BatchProgress",
    "BatchResult",
    "BatchState",
    "chunk_log_name",
]

# Files handled by one workflow run before continue-as-new (which drains the run's chunks first: their
# lanes idle until the last one finishes). A chunk of tens of files costs ~6 history events, so 10,000
# files are ~1,000-2,000 events; a run whose files fail in their chunks and are retried alone (~6 events
# each) continues earlier, when Temporal suggests it (4,096 events or 4 MiB), far below the 51,200-event
# limit. Measured on 2 cores, 10,000 files of 100 ms at 20 at a time: x1.20-1.26 of the ideal time in one
# run vs x1.24-1.36 in five runs of 2,000.
DEFAULT_FILES_PER_RUN = 10_000


class BatchOptions(BaseModel):
    """What a caller chooses for a batch: the files, the method and its parameters, where results go,
    per-file limits. ``BatchInput`` adds the rest; the REST API's ``BatchRequest`` is these fields."""

    directory: str = Field(pattern=PATH_PATTERN)
    pattern: str = Field(default="*", min_length=1)
    # The task every file goes through: a method and its parameters (a template). The file is
    # handed over the way the original Gleitzeit did: file_path for llm text methods, image_path
    # for llm/vision, context.file_path for python/execute.
    method: str = "llm/chat"
    parameters: dict[str, Any] = Field(default_factory=dict)
    max_concurrent: int = Field(default=5, ge=1, le=MAX_PARALLEL_LIMIT)
    output_dir: str | None = Field(default=None, pattern=PATH_PATTERN)
    name: str = "batch"
    # Per-file attempt limits, as for a DAG task.
    timeout: float | None = Field(default=None, gt=0, le=MAX_DURATION_SECONDS)
    max_attempts: int = Field(default=3, ge=1, le=100)


class BatchInput(BatchOptions):
    # Relative directory / output_dir resolve against this (start_batch fills in the caller's cwd).
    base_dir: str | None = None
    # A full retry block (backoff, delays) for each file; overrides max_attempts when given.
    retry: RetrySpec | None = None
    # How soon a file whose worker died is retried elsewhere (default: the method's heartbeat timeout).
    heartbeat_timeout: float | None = Field(default=None, gt=0)
    # Keep per-file results in the workflow result only up to this many files (the rest: output_dir).
    inline_results_limit: int = Field(default=1000, ge=0)
    # Continue-as-new after this many files in one run (also earlier, when Temporal suggests it).
    files_per_run: int = Field(default=DEFAULT_FILES_PER_RUN, ge=1)
    # Carried across continue-as-new; None on the first run.
    state: BatchState | None = None
    # The roots the run was started with (the REST API's): every file a task opens must lie inside
    # them, on whichever worker runs it (gleitzeit.core.files.read_roots). None: the worker's own rule.
    file_roots: list[str] | None = None


class BatchState(BaseModel):
    listing_id: str | None = None  # where the listing activity stored the sorted file list
    total: int = 0
    cursor: int = 0  # files before this index have been scheduled (and finished) in an earlier run
    # "completed" counts every file that has a result, including those found already done.
    completed: int = 0
    failed: int = 0
    skipped_existing: int = 0  # output already present from an earlier run: not redone
    results: dict[str, Any] = Field(default_factory=dict)  # file -> result (small batches only)
    errors: dict[str, str] = Field(default_factory=dict)  # file -> error (capped)
    runs: int = 1  # how many workflow runs (continue-as-new) so far
    # Set by the listing activity.
    root: str | None = None  # the directory, absolute
    results_dir: str | None = None  # where every file's result is written (None: inline only)
    spill_dir: str | None = None  # where a result too large to carry inline goes
    inline_bytes: int = 0  # size of ``results`` so far (bounded, see the workflow)
    results_truncated: bool = False
    spilled: int = 0  # results written to spill_dir instead of inline
    # Seconds one file keeps one slot busy, as measured on the chunks so far (sizes the next chunks).
    file_seconds: float | None = None


class BatchProgress(BaseModel):
    workflow_id: str
    name: str
    total: int
    completed: int
    failed: int
    skipped_existing: int
    running: int
    status: str = "running"  # running | completed | partial | failed | cancelled
    runs: int = 1
    output_dir: str | None = None


class BatchResult(BaseModel):
    workflow_id: str
    name: str
    total: int
    completed: int
    failed: int
    skipped_existing: int
    output_dir: str | None = None  # where the per-file results were written (None: inline only)
    results: dict[str, Any] = Field(default_factory=dict)  # file name -> response (see inline limit)
    errors: dict[str, str] = Field(default_factory=dict)
    results_truncated: bool = False
    runs: int = 1
    # "partial": some files failed (see failed / errors); a batch where every file fails is partial too.
    status: Literal["completed", "partial"] = "completed"
    warnings: list[str] = Field(default_factory=list)


# -- activity contracts (files.list, files.page, batch.process_file[s], files.cleanup) ---------------


class BatchListInput(BaseModel):
    workflow_id: str
    directory: str
    pattern: str = "*"
    base_dir: str | None = None
    output_dir: str | None = None
    # Batches above this many files without an output_dir write their results under data_dir.
    inline_results_limit: int = 1000
    # The run's roots (BatchInput.file_roots): the directories must lie inside them.
    file_roots: list[str] | None = None


class BatchListing(BaseModel):
    listing_id: str  # absolute path of the listing file (readable by every worker sharing the disk)
    total: int
    root: str
    results_dir: str | None = None
    spill_dir: str


class BatchPageInput(BaseModel):
    listing_id: str
    start: int
    count: int


class BatchFileCommon(BaseModel):
    """What every file of a batch shares: where it lies, the method, where results go, per-file limits."""

    workflow_id: str = ""
    run_id: str = ""
    root: str
    method: str
    parameters: dict[str, Any] = Field(default_factory=dict)
    base_dir: str | None = None
    results_dir: str | None = None
    spill_dir: str | None = None
    inline: bool = False  # return the result's value for the workflow's inline results
    # Largest value (JSON bytes, with its file name) returned inline; a larger one is written to
    # results_dir, or to spill_dir when there is none, so no result is ever lost.
    inline_max_bytes: int = 0
    timeout: float | None = None
    retry: RetrySpec | None = None
    # No results_dir (a small batch): keep each chunk's results in a scratch log while the batch runs,
    # so that a retried attempt finds the files it already finished.
    scratch: bool = False
    # The run's roots (BatchInput.file_roots), for each file's task.
    file_roots: list[str] | None = None


class BatchFileInput(BatchFileCommon):
    """``batch.process_file``: one file."""

    index: int
    file: str  # relative to root, POSIX separators
    # Attempts this file already had inside a chunk (``batch.process_files``) before it was handed to
    # its own activity: its n-th attempt here is its (prior_attempts + n)-th in all.
    prior_attempts: int = 0
    # The scratch log of the chunk it failed in (``chunk_log_name``): holds it if that chunk finished it.
    scratch_log: str | None = None


class BatchChunkInput(BatchFileCommon):
    """``batch.process_files``: files ``start .. start + len(files) - 1`` of the listing, ``concurrency``
    at a time."""

    start: int
    files: list[str]
    concurrency: int = Field(default=1, ge=1)
    # A file's error of one of these types (or marked non-retryable) is final; any other error makes
    # the workflow retry the file in its own activity, under the batch's RetryPolicy.
    non_retryable_types: list[str] = Field(default_factory=list)
    # One file's limit inside the chunk (the single-file activity's start_to_close); None: no limit.
    file_timeout: float | None = None


class BatchFileResult(BaseModel):
    """What one file's activity returns: a small summary, never the whole result of a big answer.

    The file written is ``<results_dir>/<file>.json``: ``{"file", "method", "result"}`` with the
    method's full result (``result.response`` for llm methods, ``result.result`` for python).
    """

    file: str
    status: Literal["completed", "skipped_existing"]
    output: str | None = None  # path of the result file, when one was written or found
    size: int = 0  # bytes of the result file (or of the value when none was written)
    value: Any = None  # the primary value (response / script result) when inline was asked and small
    has_value: bool = False
    value_bytes: int = 0  # JSON size of value plus its file name, for the workflow's inline budget
    spilled: bool = False  # written to spill_dir because it was too large to carry inline
    preview: str | None = None  # the first characters of the primary value


class BatchFileOutcome(BaseModel):
    """One file's outcome inside a chunk: a compact result summary, or its error."""

    file: str
    # retry: failed with an error that another attempt may fix; the workflow retries it alone.
    status: Literal["completed", "skipped_existing", "failed", "retry"]
    value: Any = None
    has_value: bool = False
    value_bytes: int = 0
    spilled: bool = False
    error: str | None = None
    error_type: str | None = None


class BatchChunkResult(BaseModel):
    outcomes: list[BatchFileOutcome] = Field(default_factory=list)  # in the order of the chunk's files


class BatchCleanupInput(BaseModel):
    spill_dir: str


def chunk_log_name(start: int, count: int) -> str:
    """The name of a chunk's scratch log (``files-1-40``): unique within a batch, as its activity id.

    The workflow names it in ``BatchFileInput.scratch_log`` for a file retried alone; the chunk's
    activity derives it from its own range: both sides must agree."""
    return f"files-{start + 1}-{start + count}"


BatchInput.model_rebuild()
