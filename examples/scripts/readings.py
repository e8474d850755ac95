"""Make reproducible sensor readings (python_data.yaml, step 1; a list `args` arrives as argv).

Usage: readings.py [--count N] [--seed S]. Result: {"sensor": str, "values": [float, ...], "count": int}.
"""

import argparse
import json
import random
import sys

parser = argparse.ArgumentParser(description=__doc__)
parser.add_argument("--count", type=int, default=10)
parser.add_argument("--seed", type=int, default=1)
parser.add_argument("--sensor", default="t1")
opts = parser.parse_args(sys.argv[1:])
rng = random.Random(opts.seed)
values = [round(20 + rng.gauss(0, 2.5), 2) for _ in range(max(opts.count, 2))]
print(f"{opts.sensor}: {len(values)} readings", file=sys.stderr)
print(json.dumps({"sensor": opts.sensor, "values": values, "count": len(values)}))
