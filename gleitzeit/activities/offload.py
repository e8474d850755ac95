"""Large task results: stored as blobs under the data dir instead of crossing Temporal.

Temporal refuses a payload over 2 MiB, so a task result whose JSON is over
``Settings.offload_threshold_bytes`` (default 1 MiB) is written to
``<data_dir>/results/<sha256>.json`` (content-addressed: the same result is stored once; written to a
temporary file and renamed, so a reader never sees half a blob) and the activity returns the small
marker of an :class:`~gleitzeit.contracts.tasks.OffloadedResult` instead. The workflow never opens a
blob: a later task's references into it reach that task's activity as deferred references, which
:func:`resolve_deferred` resolves here before the activity runs. The client loads the markers of a
run's result the same way (:func:`load_offloaded`). One place for every method: the worker's
``OffloadInterceptor`` (gleitzeit.worker.interceptor) calls :func:`offload_result` and
:func:`resolve_parameters` around each task activity. See docs/results.md, "Large results".
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

from pydantic_core import to_jsonable_python

from gleitzeit.config import Settings
from gleitzeit.contracts.tasks import (
    DEFERRED_KEY,
    DEFERRED_TEXT_KEY,
    OffloadedResult,
    TaskInput,
    has_deferred,
    offloaded_ref,
)
from gleitzeit.core.errors import NotFoundError
from gleitzeit.dsl.references import Reference, parse_template, render_text, value_in_result

__all__ = [
    "ResultStore",
    "load_offloaded",
    "offload_result",
    "resolve_deferred",
    "resolve_parameters",
]

_SHA256 = re.compile(r"[0-9a-f]{64}")


class ResultStore:
    """The content-addressed blobs of offloaded results: ``<data_dir>/results/<sha256>.json``."""

    def __init__(self, data_dir: Path | str) -> None:
        self.root = Path(data_dir) / "results"

    @classmethod
    def of(cls, settings: Settings) -> ResultStore:
        return cls(settings.data_dir)

    def path(self, ref: OffloadedResult) -> Path:
        if not _SHA256.fullmatch(ref.sha256):  # a marker is data: never let it name another file
            raise NotFoundError(f"not a result blob reference: {ref.sha256!r}")
        return self.root / f"{ref.sha256}.json"

    def put(self, data: bytes, *, method: str = "", summary: str = "") -> OffloadedResult:
        ref = OffloadedResult(
            sha256=hashlib.sha256(data).hexdigest(), size=len(data), method=method, summary=summary
        )
        target = self.path(ref)
        if target.exists() and target.stat().st_size == len(data):
            return ref  # stored before (a retry, or the same result of another task)
        self.root.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return ref

    def load(self, ref: OffloadedResult, task_id: str) -> Any:
        """The stored result; a missing blob is a NotFoundError that says where and what to do."""
        path = self.path(ref)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise NotFoundError(
                f"the result of task '{task_id}' ({ref.size / 1_048_576:.1f} MiB) was offloaded to {path}, "
                "which is not on this machine; read it where the data dir is shared with the workers "
                "(GLEITZEIT_DATA_DIR on a shared volume, see docs/results.md 'Large results')"
            ) from None
        value = json.loads(data)
        if ref.pick is not None and isinstance(value, dict):  # a foreach item's primary value
            return value.get("result", value.get(ref.pick))
        return value


def _summary(value: Any) -> str:
    """What a result holds, for people reading the history: its fields and their JSON sizes."""
    if isinstance(value, dict):
        sizes = sorted(
            ((len(json.dumps(v, default=str)), k) for k, v in value.items()), key=lambda p: (-p[0], p[1])
        )
        return ", ".join(f"{k}: {n:,} bytes" for n, k in sizes[:8])
    return f"{type(value).__name__}"


async def offload_result(result: Any, inp: TaskInput, settings: Settings) -> Any:
    """``result`` as it is when its JSON is at most the threshold, else stored and its marker."""
    value = to_jsonable_python(result)
    data = json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()
    if len(data) <= settings.offload_threshold_bytes:
        return result  # unchanged: the same payload as without offloading
    store = ResultStore.of(settings)
    ref = await asyncio.to_thread(store.put, data, method=inp.method, summary=_summary(value))
    return ref.marker()


def resolve_deferred(value: Any, store: ResultStore) -> Any:
    """``value`` with every deferred reference replaced by what it names, each blob read once.
    A reference that does not fit the stored result (a missing field or index) is a ValidationError
    naming it; a missing blob a NotFoundError naming the task and the path."""
    cache: dict[str, Any] = {}

    def one(marker: dict[str, Any]) -> Any:
        ref = OffloadedResult.model_validate(marker["blob"])
        if ref.sha256 not in cache:
            cache[ref.sha256] = store.load(ref, str(marker.get("task", "?")))
        parsed = parse_template(marker["ref"])[0]
        assert isinstance(parsed, Reference)
        return value_in_result(parsed, cache[ref.sha256], marker.get("primary"))

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            if len(v) == 1 and DEFERRED_KEY in v:
                return one(v[DEFERRED_KEY])
            if (ref := offloaded_ref(v)) is not None:  # a foreach item's result, in its task's lists
                return store.load(ref, "a foreach item")
            if len(v) == 1 and DEFERRED_TEXT_KEY in v:
                return "".join(
                    p if isinstance(p, str) else render_text(one(p[DEFERRED_KEY]))
                    for p in v[DEFERRED_TEXT_KEY]
                )
            return {k: walk(item) for k, item in v.items()}
        if isinstance(v, list):
            return [walk(item) for item in v]
        return v

    return walk(value)


async def resolve_parameters(inp: TaskInput, settings: Settings) -> TaskInput:
    """The task's input with its deferred references resolved (the workflow marks such inputs)."""
    if not inp.deferred:
        return inp
    params = await asyncio.to_thread(resolve_deferred, inp.parameters, ResultStore.of(settings))
    return inp.model_copy(update={"parameters": params, "deferred": False})


def load_offloaded(results: dict[str, Any], store: ResultStore) -> dict[str, Any]:
    """A run's results (task id -> result) with offloaded results loaded from their blobs (a foreach
    task's items' too)."""
    out: dict[str, Any] = {}
    for task_id, value in results.items():
        if (ref := offloaded_ref(value)) is not None:
            out[task_id] = store.load(ref, task_id)
        else:
            out[task_id] = resolve_deferred(value, store) if has_deferred(value) else value
    return out
