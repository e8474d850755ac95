"""The one size grammar and the one duration grammar (gleitzeit.core.units), good forms and bad."""

from __future__ import annotations

import math

import pytest

from gleitzeit.core.units import DURATION_FORMS, SIZE_FORMS, parse_duration, parse_size

MI = 1024**2


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (1048576, MI),
        ("1048576", MI),
        ("512k", 512 * 1024),
        ("256m", 256 * MI),
        ("256M", 256 * MI),
        ("256Mi", 256 * MI),
        ("256MiB", 256 * MI),
        ("256mib", 256 * MI),
        ("256mb", 256 * MI),
        ("256 MB", 256 * MI),
        ("1g", 1024 * MI),
        ("1.5G", int(1.5 * 1024 * MI)),
        ("1t", 1024**4),
        ("1Ti", 1024**4),
        ("100b", 100),
        (" 64m ", 64 * MI),
    ],
)
def test_sizes(value: object, size: int) -> None:
    assert parse_size(value) == size


@pytest.mark.parametrize(
    "value", ["lots", "256x", "256ib", "m", "-1m", "0", 0, -5, True, None, [1], "1.5.2g", "inf", math.inf]
)
def test_bad_sizes_say_the_accepted_forms(value: object) -> None:
    with pytest.raises(ValueError) as info:
        parse_size(value)
    assert SIZE_FORMS in str(info.value)


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        (90, 90.0),
        (1.5, 1.5),
        ("90", 90.0),
        ("90s", 90.0),
        ("5m", 300.0),
        ("1h30m", 5400.0),
        ("1h 30m", 5400.0),
        ("1.5h", 5400.0),
        ("2d", 172800.0),
        ("250ms", 0.25),
        ("1m30s", 90.0),
        ("5M", 300.0),
        ("PT1H", 3600.0),
        ("P1DT2H", 93600.0),
        ("PT1H30M", 5400.0),
        ("PT0.5S", 0.5),
        ("pt10m", 600.0),
        ("P1W", 604800.0),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert parse_duration(value) == pytest.approx(seconds)


@pytest.mark.parametrize(
    "value",
    [
        "5 parsecs",
        "-3s",
        "0",
        0,
        -1,
        "0s",
        "soon",
        "P",
        "PT",
        "P1Y",
        "1h30",
        "inf",
        "nan",
        math.inf,
        math.nan,
        True,
        None,
        [5],
        "",
    ],
)
def test_bad_durations_say_the_accepted_forms(value: object) -> None:
    with pytest.raises(ValueError) as info:
        parse_duration(value)
    assert DURATION_FORMS in str(info.value)
