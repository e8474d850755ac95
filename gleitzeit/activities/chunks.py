"""Text chunks of a running LLM call, handed to a listener in the same process.

The compatible API's streaming answers (``gleitzeit.api.compat``) run as the same durable chat
workflow as any other call; to get tokens to the HTTP response while the activity writes them, the
API registers a listener under the run's workflow id before it starts the run, and the LLM activity
publishes each piece of text it receives to it. Both sit in one process when ``gleitzeit serve`` runs
its own worker and starts the run eagerly (the activity is then a local activity on that worker). A
worker in another process finds no listener and simply collects the answer; the API then sends it
when the run ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

from temporalio import activity

__all__ = ["ChunkListener", "chunk_publisher", "listening"]

# (text, attempt): the attempt tells the listener when a retry started the answer over.
ChunkListener = Callable[[str, int], None]

_LISTENERS: dict[str, ChunkListener] = {}


@contextlib.contextmanager
def listening(workflow_id: str, listener: ChunkListener) -> Iterator[None]:
    """Receive the text pieces of the LLM calls of run ``workflow_id`` while the block runs."""
    _LISTENERS[workflow_id] = listener
    try:
        yield
    finally:
        if _LISTENERS.get(workflow_id) is listener:
            del _LISTENERS[workflow_id]


def chunk_publisher(workflow_id: str) -> Callable[[str], None] | None:
    """What the activity calls with each piece of text, or None when nobody here listens."""
    listener = _LISTENERS.get(workflow_id)
    if listener is None:
        return None
    attempt = activity.info().attempt if activity.in_activity() else 1
    return lambda text: listener(text, attempt)
