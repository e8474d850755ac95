"""The settings a pipeline is checked against when it loads, readable without the rest of the settings.

``Limits`` holds them (``max_pipeline_bytes``, ``max_script_memory``, ``max_script_cpus``,
``file_roots``); ``gleitzeit.config.Settings`` inherits them, so there is one definition.
``limits()`` reads them from the environment the way ``Settings`` does (``GLEITZEIT_`` + the name in
any case; a list as JSON) but without importing pydantic-settings, which alone costs a short command
like ``gleitzeit validate`` about a tenth of a second (issue 24). The dsl reads only these.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, field_validator

from gleitzeit.core.errors import ConfigurationError
from gleitzeit.core.units import parse_size

__all__ = [
    "DEFAULT_MAX_PIPELINE_BYTES",
    "DEFAULT_MAX_SCRIPT_CPUS",
    "DEFAULT_MAX_SCRIPT_MEMORY",
    "ENV_PREFIX",
    "MAX_PARALLEL_LIMIT",
    "Limits",
    "limits",
]

ENV_PREFIX = "GLEITZEIT_"
MAX_PARALLEL_LIMIT = 1000
# A pipeline file or text read by the CLI, the client or the worker: generous for YAML written by
# hand, small enough that parsing it (pure-Python PyYAML, ~1 s per MB here) cannot hold a process.
# The REST API reads at most gleitzeit.api.limits.MAX_PIPELINE_BYTES of it (under its body limit).
DEFAULT_MAX_PIPELINE_BYTES = 4 * 1024 * 1024
# The most a python task may ask for (``memory``, ``cpus``): beyond any machine's size, before the
# numbers overflow Docker's int64 and the cgroup; validation stops them instead of a failing run.
# Lower them to what the workers have.
DEFAULT_MAX_SCRIPT_MEMORY = 16 * 1024**4
DEFAULT_MAX_SCRIPT_CPUS = 1024.0
# Fields pydantic-settings reads from the environment as JSON (its "complex" fields).
_JSON_FIELDS = frozenset({"file_roots"})


class Limits(BaseModel):
    """What a pipeline may ask for and where its files may be (part of ``Settings``)."""

    # Built when first validated: with no limit in the environment (the usual case) ``limits()`` gives
    # the defaults without building a validator at all.
    model_config = ConfigDict(defer_build=True)

    max_pipeline_bytes: int = Field(
        default=DEFAULT_MAX_PIPELINE_BYTES, ge=1, description="largest pipeline file or text read"
    )
    max_script_memory: int = Field(
        default=DEFAULT_MAX_SCRIPT_MEMORY, ge=1, description="largest `memory` a python task may ask for"
    )
    max_script_cpus: float = Field(
        default=DEFAULT_MAX_SCRIPT_CPUS, gt=0, description="largest `cpus` a python task may ask for"
    )
    file_roots: list[Path] = Field(default_factory=list)

    @field_validator("max_script_memory", mode="before")
    @classmethod
    def _memory_size(cls, value: object) -> object:
        # GLEITZEIT_MAX_SCRIPT_MEMORY=16g reads like a task's `memory`.
        return parse_size(value) if isinstance(value, str) else value


def limits() -> Limits:
    """The limits the environment sets now (the same values ``get_settings()`` has, read the same way)."""
    env = {k.upper(): v for k, v in os.environ.items() if k[: len(ENV_PREFIX)].upper() == ENV_PREFIX}
    return _limits(tuple(env.get(ENV_PREFIX + name.upper()) for name in Limits.model_fields))


@lru_cache(maxsize=8)
def _limits(raw: tuple[str | None, ...]) -> Limits:
    if not any(raw):
        return Limits.model_construct()  # every field its default; nothing to validate
    values: dict[str, object] = {}
    for name, value in zip(Limits.model_fields, raw, strict=True):
        if value is None:
            continue
        if name in _JSON_FIELDS:
            try:
                values[name] = json.loads(value)
            except ValueError as exc:
                raise ConfigurationError(
                    f"{ENV_PREFIX}{name.upper()} must be a JSON list (e.g. '[\"/data\"]'): {exc}"
                ) from None
        else:
            values[name] = value
    return Limits.model_validate(values)
