"""The batch activities: list the files (``files.list``), hand out their names in pages (``files.page``),
process a chunk of files (``batch.process_files``) or one file (``batch.process_file``), and remove a
finished small batch's scratch results (``files.cleanup``).

The listing is written to disk once, where every worker can read it (see ``gleitzeit.batch.store``
for the layout); the workflow only learns the count and pages of names.

A file is processed by ``BatchActivities.process_one``: it runs the method's real activity code
(``LlmActivities`` / ``PythonActivities``, called directly with a ``TaskInput``) and writes the full
result to ``<results_dir>/<file>.json`` (``{"file", "method", "result"}``) atomically: a temporary file
renamed into place, so a result file that exists is complete. A small batch without a results folder
keeps a scratch copy instead, for as long as it runs. When a result exists already (an earlier run, or
an attempt that finished writing just before its worker died) the model is not called again and the
file counts as ``skipped_existing``. What comes back is a small summary, never the whole result of a
big answer. ``batch.process_files`` runs ``process_one`` over a chunk (``gleitzeit.batch.chunk``);
``batch.process_file`` is one file alone: how the workflow retries a file that failed in a chunk.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import shutil
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from temporalio import activity

from gleitzeit.activities.common import heartbeating, non_retryable
from gleitzeit.activities.llm import LlmActivities
from gleitzeit.batch.chunk import run_chunk
from gleitzeit.batch.store import (
    LISTING_FOLDER,
    FileWork,
    ScratchLog,
    listing_path,
    primary_value,
    read_complete,
    read_listing,
    remove_stale_temporaries,
    resolve_dir,
    result_path,
    safe_name,
    scratch_log_path,
    write_atomic,
)
from gleitzeit.config import Settings
from gleitzeit.contracts.batch import (
    BatchChunkInput,
    BatchChunkResult,
    BatchCleanupInput,
    BatchFileCommon,
    BatchFileInput,
    BatchFileResult,
    BatchListing,
    BatchListInput,
    BatchPageInput,
    chunk_log_name,
)
from gleitzeit.contracts.tasks import TaskInput
from gleitzeit.core.files import OutsideRoots, confine_all, read_roots
from gleitzeit.dsl.batch import file_key

__all__ = ["BatchActivities"]

PREVIEW_CHARS = 200


def _request_task_id(file: str) -> str:
    # The task id travels in an HTTP header (X-Request-Id): printable ASCII only.
    return quote(file, safe="/!$&'()*+,;=:@-._~ ")


def _list(root: Path, pattern: str, excluded: list[Path]) -> list[str]:
    files: list[str] = []
    for p in root.glob(pattern):
        if any(p.is_relative_to(d) for d in excluded) or not p.is_file():
            continue
        files.append(p.relative_to(root).as_posix())
    files.sort()
    return files


class BatchActivities:
    """The batch activities, bound to the worker's settings and its task activities."""

    def __init__(
        self,
        settings: Settings,
        llm: LlmActivities | None = None,
        python: Any | None = None,
    ) -> None:
        self._settings = settings
        self._llm = llm or LlmActivities(settings)
        if python is None:
            from gleitzeit.activities.python import PythonActivities

            python = PythonActivities(settings)
        self._python = python

    @activity.defn(name="files.list")
    async def list_files(self, inp: BatchListInput) -> BatchListing:
        """List the files under ``directory`` matching ``pattern``, store the listing, return its size."""
        # Both directories inside the worker's and the run's roots, checked before either is looked at.
        root_sets = read_roots(self._settings.file_roots, inp.file_roots)
        for key, raw in (("directory", inp.directory), ("output_dir", inp.output_dir)):
            if raw is None:
                continue
            try:
                confine_all(raw, inp.base_dir, root_sets, what=f"batch {key}")
            except OutsideRoots as exc:
                raise non_retryable(
                    str(exc), "PermissionDenied", key=key, path=raw, roots=[str(r) for r in exc.roots]
                ) from None
        root = resolve_dir(inp.directory, inp.base_dir)
        if not root.is_dir():
            raise non_retryable(
                f"batch directory '{inp.directory}' does not exist (looked at {root}); "
                "create it or give a path relative to the workflow file / working directory",
                "FileNotFound",
                path=str(root),
            )
        if not inp.pattern or Path(inp.pattern).is_absolute():
            raise non_retryable(
                f"pattern '{inp.pattern}' must be a relative glob like '*.txt' ('**/*.txt' for subfolders)",
                "InvalidParameters",
            )
        output = resolve_dir(inp.output_dir, inp.base_dir) if inp.output_dir else None
        spill_dir = Path(self._settings.data_dir) / "batches" / safe_name(inp.workflow_id)
        # Never list our own output as input: the output directory when it lies inside the input one
        # (unless it is the input directory itself), and always its .gleitzeit folder.
        excluded = [spill_dir]
        if output is not None:
            excluded.append(output / LISTING_FOLDER)
            if output != root and output.is_relative_to(root):
                excluded.append(output)
        try:
            async with heartbeating(lambda: {"listing": str(root)}):
                files = await asyncio.to_thread(_list, root, inp.pattern, excluded)
        except (ValueError, NotImplementedError) as exc:
            raise non_retryable(
                f"pattern '{inp.pattern}' is not a valid glob: {exc}", "InvalidParameters"
            ) from exc
        results_dir = output
        if results_dir is None and len(files) > inp.inline_results_limit:
            results_dir = spill_dir
        path = listing_path(self._settings, inp.workflow_id, output)
        payload = json.dumps({"root": str(root), "pattern": inp.pattern, "files": files})
        await asyncio.to_thread(write_atomic, path, payload.encode())
        activity.logger.info(
            "batch %s: %d files in %s match %s", inp.workflow_id, len(files), root, inp.pattern
        )
        return BatchListing(
            listing_id=str(path),
            total=len(files),
            root=str(root),
            results_dir=str(results_dir) if results_dir else None,
            spill_dir=str(spill_dir),
        )

    @activity.defn(name="files.page")
    async def page(self, inp: BatchPageInput) -> list[str]:
        """Names ``start .. start + count - 1`` of a stored listing."""
        files = await asyncio.to_thread(read_listing, inp.listing_id)
        return files[inp.start : inp.start + inp.count]

    @activity.defn(name="batch.process_file")
    async def process_file(self, inp: BatchFileInput) -> BatchFileResult:
        """Run the batch's method on one file and write its result; skip a file already done."""
        return await self.process_one(inp)

    @activity.defn(name="batch.process_files")
    async def process_files(self, inp: BatchChunkInput) -> BatchChunkResult:
        """A chunk of files, ``inp.concurrency`` at a time; one outcome per file (see gleitzeit.batch.chunk)."""
        log = self._scratch_log(inp, chunk_log_name(inp.start, len(inp.files)))
        try:
            return await run_chunk(functools.partial(self.work_on, log=log), inp)
        finally:
            if log is not None:
                log.close()

    @activity.defn(name="files.cleanup")
    async def cleanup(self, inp: BatchCleanupInput) -> None:
        """Remove a finished batch's scratch results; results spilled next to them stay."""
        spill_dir = Path(inp.spill_dir)
        await asyncio.to_thread(shutil.rmtree, spill_dir / LISTING_FOLDER, ignore_errors=True)
        with contextlib.suppress(OSError):
            spill_dir.rmdir()  # only when nothing was spilled: then the folder is empty

    async def process_one(self, inp: BatchFileInput) -> BatchFileResult:
        """One file: its result found on disk, or the method run and its result written."""
        # A file retried alone after its chunk: the chunk's log may hold it, and gets it when done.
        log = self._scratch_log(inp, inp.scratch_log) if inp.scratch_log else None
        try:
            work = await self.work_on(inp, log=log)
            if work.blocking:
                await asyncio.to_thread(work.write)
            else:
                work.write()
        finally:
            if log is not None:
                log.close()
        return work.result

    @staticmethod
    def _scratch_log(inp: BatchFileCommon, name: str) -> ScratchLog | None:
        if not (inp.scratch and inp.spill_dir and not inp.results_dir):
            return None
        return ScratchLog(scratch_log_path(inp.spill_dir, name))

    async def work_on(self, inp: BatchFileInput, log: ScratchLog | None = None) -> FileWork:
        """One file up to its result: found on disk (or in its chunk's scratch ``log``), or the method
        run; what is left is to write it (``FileWork.write``), so that a chunk can start its next file
        meanwhile."""
        file = inp.file
        out = result_path(inp.results_dir, file) if inp.results_dir else None
        spill = result_path(inp.spill_dir, file) if inp.spill_dir and inp.inline and not out else None
        for candidate in (out, spill):
            if candidate is None:
                continue
            done = read_complete(candidate, file)
            if done is not None:
                summary = self._summary(
                    inp, done["result"], "skipped_existing", candidate, candidate.stat().st_size
                )
                if candidate is spill:
                    summary = summary.model_copy(update={"spilled": True})
                return FileWork(summary)
        logged = log.find(file) if log is not None else None
        if logged is not None:
            return FileWork(self._summary(inp, logged["result"], "skipped_existing", None, 0))
        if out is not None and activity.in_activity() and activity.info().attempt > 1:
            remove_stale_temporaries(out)

        source = Path(inp.root, *file.split("/"))
        if not source.is_file():
            raise non_retryable(
                f"batch file '{file}' is gone (listed under {inp.root}, missing now)",
                "FileNotFound",
                file=file,
            )
        # A shallow copy: only the top level (and the context, copied below) is changed here. A deep
        # copy of the batch's parameters cost ~0.1 ms per file.
        params = dict(inp.parameters)
        target = file_key(inp.method) or "file_path"
        if target == "context.file_path":
            params["context"] = {**(params.get("context") or {}), "file_path": str(source)}
        else:
            params[target] = str(source)
        task = TaskInput(
            workflow_id=inp.workflow_id,
            run_id=inp.run_id,
            task_id=_request_task_id(file),
            method=inp.method,
            parameters=params,
            base_dir=inp.base_dir,
            file_roots=inp.file_roots,
            timeout=inp.timeout,
            retry=inp.retry,
        )
        # No heartbeat of our own: the method's activity code heartbeats while it works (and a chunk
        # heartbeats for all its files).
        result = await self._method(inp.method)(task)
        doc = {"file": file, "method": inp.method, "result": result}
        data = b""
        if out is not None or spill is not None or log is not None:
            data = json.dumps(doc, ensure_ascii=False, default=str).encode()
        if out is not None:
            return FileWork(self._summary(inp, result, "completed", out, len(data)), out, data)
        summary = self._summary(inp, result, "completed", None, 0)
        if spill is not None and not summary.has_value:
            # Too large for the workflow to carry and no output directory: keep it on disk.
            update = {"output": str(spill), "size": len(data), "spilled": True}
            return FileWork(summary.model_copy(update=update), spill, data)
        return FileWork(summary, data=data, log=log)

    def _method(self, method: str) -> Callable[[TaskInput], Awaitable[dict[str, Any]]]:
        llm = {"llm/chat": self._llm.chat, "llm/generate": self._llm.generate, "llm/vision": self._llm.vision}
        if method in llm:
            return llm[method]
        if method == "python/execute":

            async def python(task: TaskInput) -> dict[str, Any]:
                answer = await self._python.execute(task)
                return answer.model_dump() if hasattr(answer, "model_dump") else dict(answer)

            return python
        raise non_retryable(
            f"a batch cannot use method '{method}'; use llm/chat, llm/generate, llm/vision or python/execute",
            "InvalidParameters",
        )

    @staticmethod
    def _summary(
        inp: BatchFileInput, result: dict[str, Any], status: str, written: Path | None, size: int
    ) -> BatchFileResult:
        value = primary_value(inp.method, result)
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        value_bytes = len(json.dumps(value, default=str).encode()) + len(inp.file) + 16
        keep = inp.inline and value_bytes <= inp.inline_max_bytes
        return BatchFileResult(
            file=inp.file,
            status=status,  # type: ignore[arg-type]
            output=str(written) if written else None,
            size=size,
            value=value if keep else None,
            has_value=keep,
            value_bytes=value_bytes if keep else 0,
            preview=text[:PREVIEW_CHARS],
        )

    def all(self) -> list[Callable[..., Any]]:
        return [self.list_files, self.page, self.process_files, self.process_file, self.cleanup]
