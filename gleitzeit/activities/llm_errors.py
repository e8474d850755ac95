"""Ollama client failures as Temporal failures: bad input and unknown models fail at once (non-retryable),
transient faults (timeouts, dropped connections, 5xx, 429) are left to Temporal's retries."""

from __future__ import annotations

import httpx
import ollama
from temporalio.exceptions import ApplicationError

from gleitzeit.activities.common import non_retryable, retryable
from gleitzeit.activities.models import missing_model_message

__all__ = ["translate_llm_error"]


def translate_llm_error(
    exc: BaseException,
    model: str,
    *,
    host: str | None = None,
    available: list[str] | None = None,
    asked: str | None = None,
) -> ApplicationError:
    """Map an ollama/httpx failure to a retryable or non-retryable ApplicationError.

    A missing model's message names the server (``host``), the models it has (``available``, when
    known) and the alias that would help; ``asked`` is the task's name when ``model`` is its alias.
    """
    if isinstance(exc, ApplicationError):
        return exc
    if isinstance(exc, ollama.ResponseError):
        status = exc.status_code
        text = exc.error
        if status == 404:
            return non_retryable(
                missing_model_message(model, host, available, text, asked=asked),
                "ModelNotFound",
                model=model,
                status=status,
                available=available,
            )
        if status in (408, 429) or status >= 500 or status == -1:
            return retryable(f"LLM server error {status}: {text}", "LLMServerError", status=status)
        return non_retryable(
            f"LLM server rejected the request ({status}): {text}", "InvalidParameters", status=status
        )
    if isinstance(exc, httpx.TimeoutException):
        return retryable(f"LLM request timed out: {exc!r}", "LLMTimeout")
    if isinstance(exc, ConnectionError | httpx.TransportError):
        return retryable(f"LLM server unreachable or connection dropped: {exc}", "LLMUnavailable")
    return retryable(f"LLM call failed: {type(exc).__name__}: {exc}", "LLMError")
