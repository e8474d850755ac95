"""What a user of the seed reference would write: the report goes to the relative path it was given."""

import json
import os
import socket
import sys

args = json.load(sys.stdin)
with open(args["output"], "w") as f:
    json.dump({"summaries": args["summaries"], "analysis": args["analysis"]}, f)
print(json.dumps({"saved": args["output"], "host": socket.gethostname(), "uid": os.getuid()}))
