"""The embedded LLM server: Ollama's REST API over llama.cpp with bundled models.

``gleitzeit llm serve`` (``serving.run_server``) runs it in this process; the routes are ``APIRouter``s in
``routes/``. Starting it as a background process when nothing answers at OLLAMA_HOST is a service:
``gleitzeit.services.llm.ensure_llm_server``. Heavy parts (xllamacpp, FastAPI) load only when the
server itself runs.
"""

from __future__ import annotations

__all__: list[str] = []
