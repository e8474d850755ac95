"""The embedded LLM server: Ollama's REST API over llama.cpp with bundled models.

``gleitzeit llm serve`` runs it; ``ensure_llm_server`` starts it when nothing answers at OLLAMA_HOST.
Heavy parts (xllamacpp, FastAPI) load only when the server itself runs.
"""

from __future__ import annotations

from gleitzeit.llm_server.launcher import (
    LlmServerHandle,
    ensure_llm_server,
    llm_server_answers,
    start_llm_server,
)

__all__ = ["LlmServerHandle", "ensure_llm_server", "llm_server_answers", "start_llm_server"]
