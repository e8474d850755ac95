"""Every file's result of a finished batch, also for batches whose results did not fit inline.

A small batch carries its results in the workflow result. A large one (or one with big answers)
writes every file's result to ``<output dir>/<file>.json`` (``{"file", "method", "result"}``); this
reads those back so ``batch_process`` returns every file as the seed promises.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from gleitzeit.batch.store import LISTING_FOLDER, primary_value
from gleitzeit.core.models import TaskStatus, WorkflowExecution

__all__ = ["read_batch_results"]


def read_batch_results(execution: WorkflowExecution) -> dict[str, Any]:
    """Inline results, completed from ``details['output_dir']`` when the batch wrote them there."""
    results = {name: r.result for name, r in execution.results.items() if r.status == TaskStatus.COMPLETED}
    details = execution.details
    complete = int(details.get("completed") or 0)
    output_dir = details.get("output_dir")
    if len(results) >= complete or not output_dir:
        return results
    root = Path(output_dir)
    for path in sorted(root.rglob("*.json")):
        if LISTING_FOLDER in path.parts:
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or "file" not in data:
            continue
        value = data.get("result")
        results.setdefault(
            str(data["file"]),
            primary_value(str(data.get("method") or ""), value) if isinstance(value, dict) else value,
        )
    return results
