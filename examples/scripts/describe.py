"""Describe a list of numbers (python_data.yaml, step 2).

Context: {"values": [number, ...], "precision": int}. Result: {"n", "sum", "mean", "median", "stdev",
"min", "max"}.
"""

import json
import os
import statistics
import sys


def read_context() -> dict:
    path = os.environ.get("GLEITZEIT_CONTEXT_FILE")
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    text = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    return json.loads(text) if text.strip() else {}


context = read_context()
values = [float(v) for v in context.get("values", [])]
digits = int(context.get("precision", 2))
if not values:
    print("no values to describe", file=sys.stderr)
    sys.exit(1)
print(
    json.dumps(
        {
            "n": len(values),
            "sum": round(sum(values), digits),
            "mean": round(statistics.fmean(values), digits),
            "median": round(statistics.median(values), digits),
            "stdev": round(statistics.stdev(values), digits) if len(values) > 1 else 0.0,
            "min": min(values),
            "max": max(values),
        }
    )
)
