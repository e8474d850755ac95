"""Translation between Ollama's REST shapes and llama.cpp's OpenAI-style ones.

Requests: Ollama ``options`` become llama.cpp sampling fields, ``format`` becomes a grammar constraint
(``"json"`` -> any JSON object, a JSON schema -> that schema). Responses: OpenAI stream chunks become
Ollama's NDJSON objects (``message``/``response``, ``done``, ``done_reason``, token counts and durations
in nanoseconds).
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

__all__ = [
    "OllamaRequestError",
    "OllamaStreamTranslator",
    "chat_messages",
    "now_iso",
    "options_to_llama",
    "format_to_llama",
]

log = logging.getLogger(__name__)

# Ollama option -> llama.cpp request field.
_SAMPLING = {
    "temperature": "temperature",
    "top_p": "top_p",
    "top_k": "top_k",
    "min_p": "min_p",
    "typical_p": "typical_p",
    "seed": "seed",
    "repeat_penalty": "repeat_penalty",
    "repeat_last_n": "repeat_last_n",
    "presence_penalty": "presence_penalty",
    "frequency_penalty": "frequency_penalty",
    "mirostat": "mirostat",
    "mirostat_tau": "mirostat_tau",
    "mirostat_eta": "mirostat_eta",
    "num_keep": "n_keep",
}
# Options that tune Ollama's runner (memory, GPU, threads): fixed per server here, accepted and ignored.
_RUNNER = {
    "num_ctx",  # handled by the caller against the slot context
    "num_predict",
    "stop",
    "num_batch",
    "num_gpu",
    "main_gpu",
    "low_vram",
    "num_thread",
    "use_mmap",
    "use_mlock",
    "numa",
    "vocab_only",
    "penalize_newline",
    "tfs_z",
    "f16_kv",
    "logits_all",
    "embedding_only",
}


class OllamaRequestError(Exception):
    """A request Ollama itself would refuse; ``status`` is the HTTP status of the answer."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def now_iso() -> str:
    """A ``created_at`` timestamp in Ollama's form (UTC, trailing Z)."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _number(name: str, value: Any, kind: type) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OllamaRequestError(f'option "{name}" must be a number, got {type(value).__name__} ({value!r})')
    return kind(value)


def options_to_llama(options: dict[str, Any] | None) -> tuple[dict[str, Any], int | None, int | None]:
    """llama.cpp fields for Ollama ``options``, plus (num_predict, num_ctx) for the caller to apply."""
    if options is None:
        return {}, None, None
    if not isinstance(options, dict):
        raise OllamaRequestError(f'"options" must be an object, got {type(options).__name__}')
    out: dict[str, Any] = {}
    for name, value in options.items():
        if value is None:
            continue
        if name in _SAMPLING:
            kind = int if name in ("top_k", "seed", "repeat_last_n", "mirostat", "num_keep") else float
            out[_SAMPLING[name]] = _number(name, value, kind)
        elif name not in _RUNNER:
            log.warning("ignoring unknown option %r", name)  # Ollama warns and goes on, too
    stop = options.get("stop")
    if stop is not None:
        if isinstance(stop, str):
            stop = [stop]
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            raise OllamaRequestError('option "stop" must be a string or a list of strings')
        out["stop"] = stop
    num_predict = options.get("num_predict")
    num_ctx = options.get("num_ctx")
    return (
        out,
        None if num_predict is None else _number("num_predict", num_predict, int),
        None if num_ctx is None else _number("num_ctx", num_ctx, int),
    )


def format_to_llama(fmt: Any) -> dict[str, Any]:
    """Grammar constraint for Ollama's ``format``: ``"json"`` or a JSON schema object."""
    if fmt is None or fmt == "":
        return {}
    if fmt == "json":
        return {"response_format": {"type": "json_object"}}
    if isinstance(fmt, dict):
        return {"json_schema": fmt}
    raise OllamaRequestError(f'invalid format {fmt!r}: use "json" or a JSON schema object')


def chat_messages(messages: Any, model_name: str) -> list[dict[str, Any]]:
    """Ollama chat messages as llama.cpp takes them; images are refused (no vision support)."""
    if not isinstance(messages, list):
        raise OllamaRequestError('"messages" must be a list')
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict):
            raise OllamaRequestError(f"messages[{i}] must be an object")
        role = m.get("role")
        if role not in ("system", "user", "assistant", "tool"):
            raise OllamaRequestError(
                f"messages[{i}].role must be system, user, assistant or tool, got {role!r}"
            )
        if m.get("images"):
            raise OllamaRequestError(vision_error(model_name))
        content = m.get("content") or ""
        if not isinstance(content, str):
            raise OllamaRequestError(f"messages[{i}].content must be a string")
        out.append({"role": role, "content": content})
    return out


def vision_error(model_name: str) -> str:
    return (
        f"model '{model_name}' does not support vision: the request contains images, but this model reads "
        "text only (no vision model is bundled with this server)"
    )


class OllamaStreamTranslator:
    """Turns llama.cpp stream chunks into Ollama response objects for one request."""

    def __init__(self, model: str, *, chat: bool, started: float, load_seconds: float = 0.0) -> None:
        self.model = model
        self.chat = chat
        self.started = started  # time.perf_counter() at request arrival
        self.load_seconds = load_seconds
        self.content: list[str] = []
        self.done_reason: str | None = None
        self.usage: dict[str, Any] = {}
        self.timings: dict[str, Any] = {}
        self.length_capped = False

    def _piece(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {"model": self.model, "created_at": now_iso()}
        if self.chat:
            body["message"] = {"role": "assistant", "content": text}
        else:
            body["response"] = text
        body["done"] = False
        return body

    def feed(self, chunk: dict[str, Any]) -> dict[str, Any] | None:
        """The Ollama object for one chunk, or None when the chunk carries no text."""
        if chunk.get("usage"):
            self.usage = chunk["usage"]
        if chunk.get("timings"):
            self.timings = chunk["timings"]
        text = ""
        for choice in chunk.get("choices") or []:
            delta = choice.get("delta") or {}
            text += delta.get("content") or choice.get("text") or ""
            if choice.get("finish_reason"):
                self.done_reason = "length" if choice["finish_reason"] == "length" else "stop"
        if not text:
            return None
        self.content.append(text)
        return self._piece(text)

    def final(self, *, include_text: bool) -> dict[str, Any]:
        """The closing object (``done: true``) with counts and durations; the whole text if asked."""
        body = self._piece("".join(self.content) if include_text else "")
        total_ns = int((time.perf_counter() - self.started) * 1e9)
        prompt_ms = float(self.timings.get("prompt_ms") or 0.0)
        eval_ms = float(self.timings.get("predicted_ms") or 0.0)
        body.update(
            done=True,
            done_reason=self.done_reason or "stop",
            total_duration=total_ns,
            load_duration=int(self.load_seconds * 1e9),
            prompt_eval_count=int(self.usage.get("prompt_tokens") or self.timings.get("prompt_n") or 0),
            prompt_eval_duration=int(prompt_ms * 1e6),
            eval_count=int(self.usage.get("completion_tokens") or self.timings.get("predicted_n") or 0),
            eval_duration=int(eval_ms * 1e6),
        )
        return body


def load_response(model: str, *, chat: bool, unload: bool) -> dict[str, Any]:
    """Ollama's answer to an empty prompt: the model is loaded (or unloaded) and nothing is generated."""
    body: dict[str, Any] = {"model": model, "created_at": now_iso()}
    if chat:
        body["message"] = {"role": "assistant", "content": ""}
    else:
        body["response"] = ""
    body.update(done=True, done_reason="unload" if unload else "load")
    return body
