"""Split a text into its paragraphs and count them (fan_out_fan_in.yaml, the fan-out step).

Context: {"text": str}. Result: {"paragraphs": [str, ...], "count": int, "first": str, "last": str}.
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
paragraphs = [" ".join(p.split()) for p in str(context.get("text", "")).split("\n\n") if p.strip()]
if not paragraphs:
    paragraphs = [""]
print(
    json.dumps(
        {"paragraphs": paragraphs, "count": len(paragraphs), "first": paragraphs[0], "last": paragraphs[-1]}
    )
)
