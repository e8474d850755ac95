"""Used by complete_pipeline.py: writes the report next to itself and returns a short summary."""

import json
import sys
from pathlib import Path

context = json.load(sys.stdin)
report = {"summaries": context["summaries"], "analysis": context["analysis"]}
out = Path(context.get("output", "report.json"))
if not out.is_absolute():
    out = Path(__file__).resolve().parent / out
out.write_text(json.dumps(report, indent=2))
print(json.dumps({"saved": str(out), "documents": len(context["summaries"])}))
