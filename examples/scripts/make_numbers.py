"""Make a small, reproducible series of numbers and its statistics (hello_chain.yaml, step 1).

Context: {"count": int, "seed": int}. Result: {"numbers": [...], "count", "mean", "min", "max"}.
"""

import json
import os
import random
import sys


def read_context() -> dict:
    path = os.environ.get("GLEITZEIT_CONTEXT_FILE")
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    text = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    return json.loads(text) if text.strip() else {}


context = read_context()
count = int(context.get("count", 5))
rng = random.Random(int(context.get("seed", 7)))
numbers = [rng.randint(1, 100) for _ in range(max(count, 1))]
print(f"made {len(numbers)} numbers", file=sys.stderr)
print(
    json.dumps(
        {
            "numbers": numbers,
            "count": len(numbers),
            "mean": round(sum(numbers) / len(numbers), 2),
            "min": min(numbers),
            "max": max(numbers),
        }
    )
)
