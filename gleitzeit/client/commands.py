"""What the client-based CLI commands share: opening a client for ``--mode`` and exit codes.

Cheap to import (the client is imported when a command opens one): every CLI command module imports
this at start, also for ``gleitzeit --help``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

import typer

from gleitzeit.core.errors import GleitzeitError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from gleitzeit.client.client import GleitzeitClient, Mode

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "EXIT_OK", "MODE_OPTION", "make_client", "run_command"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID = 0, 1, 2

MODE_OPTION = typer.Option(
    "auto", "--mode", help="auto (the REST API when it answers, else Temporal directly), api or native"
)


def make_client(mode: str, *, start_services: bool = True) -> GleitzeitClient:
    """A client for a CLI command; ``start_services=False`` only connects (status, list, cancel)."""
    from gleitzeit.client.client import GleitzeitClient

    if mode not in ("auto", "api", "native"):
        # Not typer.BadParameter: typer's vendored click errors escape the CLI's error handling.
        raise ValidationError(f"--mode must be auto, api or native, not {mode!r}")
    config: dict[str, Any] = {} if start_services else {"start_services": False}
    # The CLI never starts a REST server behind the user's back; `gleitzeit serve` does that.
    mode_value: Mode = mode  # type: ignore[assignment]
    return GleitzeitClient(mode=mode_value, native_config=config, auto_start_server=False)


def run_command(body: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run ``body`` and turn Gleitzeit's errors into a message and an exit code (2 for bad input)."""
    import asyncio

    try:
        return asyncio.run(body())
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INVALID
    except NotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except GleitzeitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
