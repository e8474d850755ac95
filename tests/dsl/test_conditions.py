"""`when:` conditions: the safe expression language."""

from __future__ import annotations

import pytest

from gleitzeit.core.errors import ValidationError
from gleitzeit.dsl.conditions import check, evaluate

RESULTS = {
    "classify": {"response": "yes", "model": "m"},
    "stats": {"result": {"count": 5, "ok": True, "tags": ["a", "b"], "empty": []}, "exit_code": 0},
}
INPUTS = {"dry_run": False, "limit": 3, "mode": "fast"}


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("${stats.result.ok}", True),
        ("${stats.result.empty}", False),
        ("${classify.response} == 'yes'", True),
        ("${classify.response} != 'yes'", False),
        ("${stats.result.count} > 3 and not ${inputs.dry_run}", True),
        ("${stats.result.count} > ${inputs.limit} or false", True),
        ("1 < ${stats.result.count} <= 5", True),
        ("'a' in ${stats.result.tags}", True),
        ("'z' not in ${stats.result.tags}", True),
        ("${inputs.mode} in ['fast', 'slow']", True),
        ("${inputs.dry_run} == false", True),
        ("${inputs.dry_run} is False", True),
        ("-${inputs.limit} < 0", True),
        ("'${classify.response}!' == 'yes!'", True),
        ("true", True),
        ("null", False),
    ],
)
def test_evaluate(expr: str, expected: bool) -> None:
    assert evaluate(expr, RESULTS, INPUTS) is expected


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("${classify.response} ==", "syntax error"),
        ("len(${stats.result.tags}) > 1", "function calls are not allowed"),
        ("${stats.result.tags}.count", "attribute access is not allowed"),
        ("${stats.result.count} + 1 > 2", "'BinOp' is not allowed"),
        ("yes", "unknown name 'yes'"),
        ("__import__('os')", "function calls are not allowed"),
        ("   ", "empty"),
        ("[x for x in ${stats.result.tags}]", "is not allowed"),
    ],
)
def test_check_rejects_unsafe_or_broken_expressions(expr: str, fragment: str) -> None:
    with pytest.raises(ValidationError, match="bad condition") as info:
        check(expr)
    assert fragment in str(info.value)


def test_runtime_type_mismatch_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="cannot be evaluated"):
        evaluate("${classify.response} > 3", RESULTS, INPUTS)


def test_missing_result_is_a_validation_error() -> None:
    with pytest.raises(ValidationError, match="no result"):
        evaluate("${skipped.result}", RESULTS, INPUTS)


def test_check_returns_the_references() -> None:
    refs = check("${a.response} == ${inputs.x}")
    assert [x.root for x in refs] == ["a", "inputs"]
