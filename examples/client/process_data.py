"""A script for execute_python_script: reads its JSON context on stdin, prints its JSON result."""

import json
import sys

context = json.load(sys.stdin)
print(json.dumps({"input": context.get("input"), "output": context.get("output"), "status": "processed"}))
