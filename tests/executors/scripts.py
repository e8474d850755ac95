"""Scripts the executor tests run, as inline source (each one small and bounded in time)."""

from __future__ import annotations

ECHO_CONTEXT = """
import json, os, sys
from_stdin = json.load(sys.stdin)
with open(os.environ["GLEITZEIT_CONTEXT_FILE"]) as f:
    from_file = json.load(f)
print("working on", os.environ["GLEITZEIT_TASK_ID"])
print(json.dumps({"stdin": from_stdin, "file": from_file, "argv": sys.argv[1:]}))
"""

PLAIN_TEXT = "print('hello from a plain script')\n"

BAD_JSON = "print('{\"answer\": 42,')\n"

RESULT_FILE = """
import json, os
print("this is just chatter")
with open(os.environ["GLEITZEIT_RESULT_FILE"], "w") as f:
    json.dump({"via": "result file", "n": 3}, f)
"""

BAD_RESULT_FILE = """
import os
with open(os.environ["GLEITZEIT_RESULT_FILE"], "w") as f:
    f.write("{not json")
"""

FAILS = """
import sys
print("about to fail", file=sys.stderr)
raise SystemExit(7)
"""

SLEEP_FOREVER = "import time\ntime.sleep(600)\n"

# Starts a child in its own process group (the script's), reports its pid on stderr, then hangs.
CHILD_THEN_HANG = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(f"child-pid={child.pid}", file=sys.stderr, flush=True)
time.sleep(600)
"""

# Leaves a background child holding stdout open, then exits: the task must still end promptly.
BACKGROUND_CHILD = """
import json, subprocess, sys
subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print(json.dumps({"done": True}))
"""

DUMP_ENVIRONMENT = """
import json, os
print(json.dumps(dict(os.environ)))
"""


def huge_stdout(megabytes: int, final_json: bool) -> str:
    """Prints ``megabytes`` MiB of lines, then (optionally) a JSON result on the last line."""
    tail = 'print(json.dumps({"lines": n}))' if final_json else ""
    return f"""
import json, sys
line = "x" * 1023 + "\\n"
n = 0
for _ in range({megabytes} * 1024):
    sys.stdout.write(line)
    n += 1
{tail}
"""
