"""Format a statistics dict as a small text report (python_data.yaml, step 3).

Context: {"title": str, "stats": {...}, "above_mean": [number, ...]}. Result: {"text": str, "lines": int}.
"""

import json
import os
import sys


def read_context() -> dict:
    path = os.environ.get("GLEITZEIT_CONTEXT_FILE")
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    text = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    return json.loads(text) if text.strip() else {}


context = read_context()
stats = context.get("stats", {})
lines = [str(context.get("title", "Report")), "=" * len(str(context.get("title", "Report")))]
lines += [f"{key:>7}: {stats[key]}" for key in sorted(stats)]
lines.append(f"above the mean: {context.get('above_mean', [])}")
text = "\n".join(lines)
print(text, file=sys.stderr)
print(json.dumps({"text": text, "lines": len(lines)}))
