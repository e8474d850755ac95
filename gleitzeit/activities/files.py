"""The batch activities: list the files (``files.list``), hand out their names in pages (``files.page``)
and process one file (``batch.process_file``).

The listing is written to disk once, where every worker can read it: under the output directory
(``<output_dir>/.gleitzeit/<workflow id>.listing.json``) or, without one, under
``<data_dir>/batches/<workflow id>.json``. The workflow only learns the count and pages of names.

``batch.process_file`` runs the method's real activity code (``LlmActivities`` / ``PythonActivities``,
called directly with a ``TaskInput``) and writes the full result to ``<results_dir>/<file>.json``
(``{"file", "method", "result"}``) atomically: a temporary file renamed into place, so a result file
that exists is complete. When it exists already (an earlier run, or an attempt that finished writing
just before its worker died) the model is not called again and the file counts as
``skipped_existing``. The activity returns a small summary, never the whole result of a big answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import glob
import json
import os
import re
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from temporalio import activity

from gleitzeit.activities.common import heartbeating, non_retryable
from gleitzeit.activities.llm import LlmActivities
from gleitzeit.activities.models import TaskInput
from gleitzeit.config import Settings
from gleitzeit.dsl.batch import file_key
from gleitzeit.workflows.batch_models import (
    BatchFileInput,
    BatchFileResult,
    BatchListing,
    BatchListInput,
    BatchPageInput,
)

__all__ = [
    "LISTING_FOLDER",
    "FileActivities",
    "listing_path",
    "primary_value",
    "read_listing",
    "result_path",
]

# Under an output directory, Gleitzeit's own files live here (never listed as input, never a result).
LISTING_FOLDER = ".gleitzeit"
PREVIEW_CHARS = 200
# Parsed listings kept per worker process (a 100,000-file listing is parsed once, not per page).
_CACHE_SIZE = 8
_listing_cache: OrderedDict[tuple[str, int, int], list[str]] = OrderedDict()


def _safe_name(workflow_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", workflow_id).strip(".") or "batch"


def _resolve_dir(raw: str, base_dir: str | None) -> Path:
    path = Path(os.path.expanduser(raw))
    if not path.is_absolute():
        path = Path(base_dir or os.getcwd()) / path
    return path.resolve()


def listing_path(settings: Settings, workflow_id: str, output_dir: Path | None) -> Path:
    """Where the listing of a batch is stored."""
    if output_dir is not None:
        return output_dir / LISTING_FOLDER / f"{_safe_name(workflow_id)}.listing.json"
    return Path(settings.data_dir) / "batches" / f"{_safe_name(workflow_id)}.json"


def result_path(results_dir: str | Path, file: str) -> Path:
    """``<results_dir>/<relative path>.json``."""
    return Path(results_dir, *file.split("/")).with_name(file.rsplit("/", 1)[-1] + ".json")


def primary_value(method: str, result: dict[str, Any]) -> Any:
    """What a file's result means in the batch's results map: the response, or the script's result."""
    if method.startswith("python/"):
        return result.get("result")
    return result.get("response")


def read_listing(path: str | Path) -> list[str]:
    """The sorted relative paths of a listing file (cached per process by path, mtime and size)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise non_retryable(
            f"batch listing {p} is gone ({exc}); every worker must see the same disk as the one "
            "that listed the files",
            "FileNotFound",
        ) from exc
    key = (str(p), st.st_mtime_ns, st.st_size)
    files = _listing_cache.get(key)
    if files is None:
        files = list(json.loads(p.read_text(encoding="utf-8"))["files"])
        _listing_cache[key] = files
        while len(_listing_cache) > _CACHE_SIZE:
            _listing_cache.popitem(last=False)
    else:
        _listing_cache.move_to_end(key)
    return files


def _write_atomic(path: Path, data: bytes) -> None:
    """Write via a temporary file and rename: a reader (or a crash) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def _read_complete(path: Path, file: str) -> dict[str, Any] | None:
    """The result document at ``path`` if it is a complete result of ``file``, else None."""
    if not path.is_file():  # a stat is much cheaper than a failed open, on every file of a batch
        return None
    try:
        doc = json.loads(path.read_bytes())
    except (OSError, ValueError):
        return None
    if isinstance(doc, dict) and doc.get("file") == file and isinstance(doc.get("result"), dict):
        return doc
    return None


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


class FileActivities:
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
        root = _resolve_dir(inp.directory, inp.base_dir)
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
        output = _resolve_dir(inp.output_dir, inp.base_dir) if inp.output_dir else None
        spill_dir = Path(self._settings.data_dir) / "batches" / _safe_name(inp.workflow_id)
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
        await asyncio.to_thread(_write_atomic, path, payload.encode())
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
        """Run the batch's method on one file and write its result; skip files already done."""
        file = inp.file
        out = result_path(inp.results_dir, file) if inp.results_dir else None
        spill = result_path(inp.spill_dir, file) if inp.spill_dir and inp.inline and not out else None
        for candidate in (out, spill):
            if candidate is None:
                continue
            done = _read_complete(candidate, file)
            if done is not None:
                return self._summary(
                    inp, done["result"], "skipped_existing", candidate, candidate.stat().st_size
                )
        if activity.in_activity() and activity.info().attempt > 1 and out is not None:
            _remove_stale_temporaries(out)

        source = Path(inp.root, *file.split("/"))
        if not source.is_file():
            raise non_retryable(
                f"batch file '{file}' is gone (listed under {inp.root}, missing now)",
                "FileNotFound",
                file=file,
            )
        params = copy.deepcopy(inp.parameters)
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
            timeout=inp.timeout,
            retry=inp.retry,
        )
        # No heartbeat of our own: the method's activity code heartbeats while it works.
        result = await self._method(inp.method)(task)
        doc = {"file": file, "method": inp.method, "result": result}
        written: Path | None = None
        size = 0
        if out is not None:
            data = json.dumps(doc, ensure_ascii=False, default=str).encode()
            await asyncio.to_thread(_write_atomic, out, data)
            written, size = out, len(data)
        summary = self._summary(inp, result, "completed", written, size)
        if spill is not None and not summary.has_value:
            # Too large for the workflow to carry and no output directory: keep it on disk.
            data = json.dumps(doc, ensure_ascii=False, default=str).encode()
            await asyncio.to_thread(_write_atomic, spill, data)
            summary = summary.model_copy(update={"output": str(spill), "size": len(data), "spilled": True})
        return summary

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
        return [self.list_files, self.page, self.process_file]


def _remove_stale_temporaries(out: Path) -> None:
    """Temporary files an attempt killed mid-write left next to ``out``."""
    for stale in out.parent.glob(f".{glob.escape(out.name)}.*.tmp"):
        with contextlib.suppress(OSError):
            stale.unlink()
