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


def test_the_dsl_reads_its_limits_as_settings_does(monkeypatch: pytest.MonkeyPatch) -> None:
    """``limits()`` (no pydantic-settings: quick to import) gives what ``Settings()`` gives."""
    from gleitzeit.core.limits import Limits, limits

    assert limits() == Limits.model_validate(Settings().model_dump(include=set(Limits.model_fields)))
    monkeypatch.setenv("GLEITZEIT_MAX_PIPELINE_BYTES", "1234")
    monkeypatch.setenv("GLEITZEIT_MAX_SCRIPT_MEMORY", "2g")
    monkeypatch.setenv("gleitzeit_max_script_cpus", "3")  # names match in any case, as in Settings
    monkeypatch.setenv("GLEITZEIT_FILE_ROOTS", '["/data", "/srv/in"]')
    settings = Settings()
    read = limits()
    for name in Limits.model_fields:
        assert getattr(read, name) == getattr(settings, name), name
    assert read.max_script_memory == 2 * 1024**3 and read.max_pipeline_bytes == 1234


def test_bad_limits_in_the_environment_are_refused_by_both(monkeypatch: pytest.MonkeyPatch) -> None:
    from gleitzeit.core.errors import ConfigurationError
    from gleitzeit.core.limits import limits

    monkeypatch.setenv("GLEITZEIT_MAX_SCRIPT_CPUS", "0")
    with pytest.raises(pydantic.ValidationError):
        Settings()
    with pytest.raises(pydantic.ValidationError, match="max_script_cpus"):
        limits()
    monkeypatch.delenv("GLEITZEIT_MAX_SCRIPT_CPUS")
    monkeypatch.setenv("GLEITZEIT_FILE_ROOTS", "/data")
    with pytest.raises(ConfigurationError, match="GLEITZEIT_FILE_ROOTS must be a JSON list"):
        limits()
