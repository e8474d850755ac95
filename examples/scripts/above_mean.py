"""Keep the values above the mean (python_data.yaml; reads GLEITZEIT_CONTEXT_FILE, writes GLEITZEIT_RESULT_FILE).

Context: {"values": [number, ...], "mean": number}. Result: {"values": [...], "count": int}.
Shows the other way to hand back a result: JSON written to the file named by GLEITZEIT_RESULT_FILE.
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
mean = float(context.get("mean", 0))
kept = [v for v in context.get("values", []) if float(v) > mean]
result = {"values": kept, "count": len(kept)}
out = os.environ.get("GLEITZEIT_RESULT_FILE")
if out:
    with open(out, "w", encoding="utf-8") as f:
        json.dump(result, f)
else:
    print(json.dumps(result))
