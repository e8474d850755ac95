"""Post-process a text: words, sentences and the longest word (hello_chain.yaml, last step).

Context: {"text": str, "label": str (optional)}. Result: {"label", "words", "sentences", "longest_word",
"preview"}.
"""

import json
import os
import re
import sys


def read_context() -> dict:
    path = os.environ.get("GLEITZEIT_CONTEXT_FILE")
    if path and os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    text = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
    return json.loads(text) if text.strip() else {}


context = read_context()
text = str(context.get("text", ""))
words = re.findall(r"[A-Za-z0-9']+", text)
sentences = [s for s in re.split(r"[.!?]+", text) if s.strip()]
print(
    json.dumps(
        {
            "label": context.get("label", "text"),
            "words": len(words),
            "sentences": len(sentences),
            "longest_word": max(words, key=len) if words else "",
            "preview": " ".join(text.split())[:80],
        }
    )
)
