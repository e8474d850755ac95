"""Combine the branches of a fan-out into one report (fan_out_fan_in.yaml, the fan-in step).

Context: {"parts": {name: value, ...}}. Result: {"report": str, "sections": [name, ...], "chars": int}.
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


parts = read_context().get("parts", {})
lines = []
for name, value in parts.items():
    body = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    lines.append(f"## {name}\n{body.strip()}")
report = "\n\n".join(lines)
print(json.dumps({"report": report, "sections": list(parts), "chars": len(report)}))
