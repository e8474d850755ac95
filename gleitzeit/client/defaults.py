"""The client's defaults that CLI options show: plain constants, importable without the client."""

from __future__ import annotations

__all__ = ["DEFAULT_BATCH_PROMPT", "DEFAULT_CHAT_MODEL"]

# The seed's default model name. When the LLM server lacks it, the client uses settings.default_model
# instead (the embedded server serves smollm2:135m); an explicitly named other model is never replaced.
DEFAULT_CHAT_MODEL = "llama3.2"
DEFAULT_BATCH_PROMPT = "Summarize this document"
