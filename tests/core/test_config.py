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


def test_worker_health_urls_read_as_list_or_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GLEITZEIT_WORKER_HEALTH_URLS", "a:9464, b:9464")
    assert Settings().worker_health_urls == ["a:9464", "b:9464"]
    monkeypatch.setenv("GLEITZEIT_WORKER_HEALTH_URLS", '["http://c:9464/healthz"]')
    assert Settings().worker_health_urls == ["http://c:9464/healthz"]
    monkeypatch.setenv("GLEITZEIT_WORKER", "never")
    assert Settings().worker == "never" and Settings().metrics_port is None
