"""Settings read from the environment: the model aliases' two spellings."""

from __future__ import annotations

import pydantic
import pytest

from gleitzeit.config import Settings


@pytest.mark.parametrize(
    "raw",
    [
        "llama3.2=smollm2:135m, mxbai-embed-large = all-minilm",
        '{"llama3.2": "smollm2:135m", "mxbai-embed-large": "all-minilm"}',
    ],
)
def test_model_aliases_from_the_environment(monkeypatch: pytest.MonkeyPatch, raw: str) -> None:
    monkeypatch.setenv("GLEITZEIT_MODEL_ALIASES", raw)
    assert Settings().model_aliases == {"llama3.2": "smollm2:135m", "mxbai-embed-large": "all-minilm"}


def test_a_bad_alias_says_what_it_should_look_like(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLEITZEIT_MODEL_ALIASES", "llama3.2")
    with pytest.raises(pydantic.ValidationError, match="name=model"):
        Settings()
