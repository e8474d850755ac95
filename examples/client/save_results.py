"""Used by complete_pipeline.py: writes the report into its outputs directory and returns a short summary.

``GLEITZEIT_OUTPUTS_DIR`` names the one directory the sandbox lets a script write (for
``execute_python_script`` by default the script's own directory); it is also the working directory,
so a relative ``open("report.json", "w")`` lands there too.
"""

import json
import os
import sys
from pathlib import Path

context = json.load(sys.stdin)
report = {"summaries": context["summaries"], "analysis": context["analysis"]}
out = Path(os.environ.get("GLEITZEIT_OUTPUTS_DIR", ".")) / context.get("output", "report.json")
out.write_text(json.dumps(report, indent=2))
print(json.dumps({"saved": str(out), "documents": len(context["summaries"])}))
