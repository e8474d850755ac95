"""The one size grammar and the one duration grammar, used by the loader, the executors and the activities.

Size (``memory``): bytes as a whole number, or a number with ``k``, ``m``, ``g`` or ``t``, an optional
``i`` and an optional ``b``, in any case: ``512k``, ``256m``, ``256Mi``, ``256MiB``, ``1g``, ``1t``.
Units are binary (``1k`` = 1024 bytes) with or without the ``i``, as Docker reads them.

Duration (every ``timeout``, retry ``base_delay`` / ``max_delay``): a number is seconds; a string is
seconds (``"90"``), one or more number-unit pairs with units ``ms``, ``s``, ``m``, ``h``, ``d``
(``90s``, ``5m``, ``1h30m``, ``1.5h``, ``2d``, ``250ms``), or ISO 8601 with days, hours, minutes
and seconds (``PT1H``, ``P1DT2H``, ``PT0.5S``). Durations are above 0; both are finite.

Upper bounds: a duration is at most ``MAX_DURATION_SECONDS`` (10 years). Temporal carries durations
as protobuf ``Duration`` and the workflow as ``timedelta`` (at most 999,999,999 days); a timeout of
``1e30`` seconds overflows both and poisons the run, while no real timeout or retry delay is near 10
years. A size is at most ``MAX_SIZE_BYTES`` (2^63 - 1, what Docker's int64 can hold); tighter caps for
what a task may ask for live in Settings (``max_script_memory``).
"""

from __future__ import annotations

import math
import re

__all__ = [
    "DURATION_FORMS",
    "MAX_DURATION_SECONDS",
    "MAX_SIZE_BYTES",
    "SIZE_FORMS",
    "parse_duration",
    "parse_size",
]

MAX_DURATION_SECONDS = 10 * 365 * 86400.0
MAX_SIZE_BYTES = 2**63 - 1

SIZE_FORMS = "bytes as a whole number, or a size like 512k, 256m, 256Mi, 1g or 1t"
DURATION_FORMS = "seconds (90), or a duration like 90s, 5m, 1h30m, 2d, 250ms or PT1H"

_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*(?:([kmgt])(i)?)?(b)?$", re.IGNORECASE)
_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3, "t": 1024**4}

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)", re.IGNORECASE)
_DURATION = re.compile(r"^(?:\d+(?:\.\d+)?\s*(?:ms|s|m|h|d)\s*)+$", re.IGNORECASE)
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_ISO = re.compile(
    r"^P(?:(?P<w>\d+(?:\.\d+)?)W)?(?:(?P<d>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$",
    re.IGNORECASE,
)
_ISO_UNITS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_size(value: object) -> int:
    """Bytes for a size (see the module docstring); ValueError saying the accepted forms otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"a size is needed, not {str(value).lower()}: write {SIZE_FORMS}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value <= 0:
            raise ValueError(f"{value!r} is not a size above 0: write {SIZE_FORMS}")
        return _capped(int(value), value)
    if not isinstance(value, str):
        raise ValueError(f"a size is needed, not {type(value).__name__}: write {SIZE_FORMS}")
    match = _SIZE.match(value.strip())
    if not match or (match.group(3) and not match.group(2)):
        raise ValueError(f"'{value}' is not a size: write {SIZE_FORMS}")
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    if not math.isfinite(number * _SIZE_UNITS[unit]):
        raise ValueError(f"'{value}' is too large a size: write {SIZE_FORMS}")
    size = int(number * _SIZE_UNITS[unit])
    if size <= 0:
        raise ValueError(f"'{value}' is not a size above 0: write {SIZE_FORMS}")
    return _capped(size, value)


def _capped(size: int, value: object) -> int:
    if size > MAX_SIZE_BYTES:
        raise ValueError(f"{value!r} is too large a size (at most 2^63 - 1 bytes): write {SIZE_FORMS}")
    return size


def parse_duration(value: object) -> float:
    """Seconds for a duration (see the module docstring); ValueError saying the accepted forms otherwise."""
    if isinstance(value, bool):
        raise ValueError(f"a duration is needed, not {str(value).lower()}: write {DURATION_FORMS}")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        seconds = _duration_text(value)
    else:
        raise ValueError(f"a duration is needed, not {type(value).__name__}: write {DURATION_FORMS}")
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"{value!r} is not a duration above 0: write {DURATION_FORMS}")
    if seconds > MAX_DURATION_SECONDS:
        raise ValueError(
            f"{value!r} is longer than the 10-year maximum of a duration: write {DURATION_FORMS}"
        )
    return seconds


def _duration_text(value: str) -> float:
    text = value.strip()
    try:
        return float(text) if text.lower() not in ("inf", "+inf", "-inf", "nan", "infinity") else math.inf
    except ValueError:
        pass
    if _DURATION.match(text):
        return sum(float(n) * _DURATION_UNITS[u.lower()] for n, u in _DURATION_PART.findall(text))
    iso = _ISO.match(text)
    if iso and any(iso.groupdict().values()) and not text.upper().endswith("T"):
        return sum(float(v) * _ISO_UNITS[k] for k, v in iso.groupdict().items() if v is not None)
    raise ValueError(f"'{value}' is not a duration: write {DURATION_FORMS}")
