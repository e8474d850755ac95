"""Hints that name the closest known word for misspelt keys, methods, task names and inputs."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["closest", "did_you_mean"]


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The choice most similar to ``word`` (case-insensitive), or None when nothing is close."""
    options = sorted({str(c) for c in choices})
    by_lower = {c.lower(): c for c in options}
    match = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return by_lower[match[0]] if match else None


def did_you_mean(word: str, choices: Iterable[str], *, otherwise: str | None = None) -> str | None:
    """A hint naming the closest choice; ``otherwise`` when none is close."""
    options = sorted({str(c) for c in choices})
    best = closest(word, options)
    if best is not None:
        return f"did you mean '{best}'?"
    return otherwise
