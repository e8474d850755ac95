"""An append-only JSON-lines log of the requests the server received.

One line per request, written when the request arrives (so a request whose caller crashed mid-answer is
still counted): ``time``, ``method``, ``path``, ``model``, ``hash`` (a short sha256 of the messages,
prompt or input, stable across processes) and ``request_id`` (the ``X-Request-Id`` header, if any).
Crash-recovery tests count the calls made for each task from it.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from pathlib import Path
from typing import Any

__all__ = ["RequestLog", "content_hash", "read_request_log"]


def content_hash(body: dict[str, Any] | None) -> str | None:
    """Short hash of what a request asks the model (messages, prompt or embedding input)."""
    if not body:
        return None
    for key in ("messages", "prompt", "input"):
        if key in body and body[key] is not None:
            text = json.dumps(body[key], sort_keys=True, ensure_ascii=False, separators=(",", ":"))
            return hashlib.sha256(text.encode()).hexdigest()[:16]
    return None


class RequestLog:
    """Appends request records to ``path`` (thread-safe; each line flushed at once)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def record(self, *, method: str, path: str, body: dict[str, Any] | None, request_id: str | None) -> None:
        model = body.get("model") or body.get("name") if isinstance(body, dict) else None
        line = {
            "time": time.time(),
            "method": method,
            "path": path,
            "model": model,
            "hash": content_hash(body if isinstance(body, dict) else None),
            "request_id": request_id,
        }
        data = json.dumps(line, ensure_ascii=False) + "\n"
        with self._lock, open(self.path, "a", encoding="utf-8") as f:
            f.write(data)


def read_request_log(path: str | Path) -> list[dict[str, Any]]:
    """The records of a request log (a missing file has none; a torn last line is skipped)."""
    p = Path(path)
    if not p.is_file():
        return []
    out = []
    for line in p.read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
