"""Several Ollama hosts: the original Gleitzeit's ``providers.ollama_pool`` block.

The same shape is accepted in a pipeline's top-level ``providers: {ollama_pool: ...}`` block (the
loader hands it to the pipeline's llm/* tasks, so it crosses Temporal inside their parameters), in the
worker's settings (``GLEITZEIT_OLLAMA_POOL``, a JSON object) and as a plain list of hosts
(``OLLAMA_HOSTS=http://a:11434,http://b:11434``)::

    ollama_pool:
      instances:
        - {id: local, url: "http://localhost:11434", models: [llama3.2], max_concurrent: 5, tags: [cpu]}
        - {id: gpu-server, url: "http://gpu:11434", max_concurrent: 2, tags: [gpu]}
      load_balancing: {strategy: least_loaded, health_check_interval: 30, failover: true}
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

__all__ = [
    "DEFAULT_HOST_CONCURRENCY",
    "POOL_KEY",
    "STRATEGIES",
    "LoadBalancing",
    "OllamaPoolConfig",
    "PoolInstance",
    "Strategy",
    "hosts_pool",
    "normalise_url",
]

# The key under which the loader hands a pipeline's pool to its llm/* tasks (like ``_mcp_servers``).
POOL_KEY = "_ollama_pool"
# The original's default per instance: an Ollama server answers a few requests at a time
# (OLLAMA_NUM_PARALLEL); more only queue inside it.
DEFAULT_HOST_CONCURRENCY = 5

# The original's strategies (least_loaded, round_robin, random; model_affinity, latency_based and
# weighted, which its files also name).
Strategy = Literal["least_loaded", "round_robin", "random", "model_affinity", "latency_based", "weighted"]
STRATEGIES: tuple[str, ...] = get_args(Strategy)


def normalise_url(value: str) -> str:
    """Ollama accepts ``host:port`` without a scheme; so does the pool."""
    value = value.strip().rstrip("/")
    return value if "://" in value else "http://" + value


class PoolInstance(BaseModel):
    """One Ollama host. ``models`` it is known to have (it also counts what its ``/api/tags`` lists);
    ``tags`` that tasks select with ``instance_tags`` (``require_gpu`` asks for the ``gpu`` tag)."""

    # The original's other keys (priority, specialization) are accepted and ignored.
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = ""
    url: str
    models: list[str] = Field(default_factory=list)
    max_concurrent: int = Field(default=DEFAULT_HOST_CONCURRENCY, ge=1)
    tags: list[str] = Field(default_factory=list)
    weight: float = Field(default=1.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("url must not be empty (e.g. http://localhost:11434)")
        return normalise_url(v)

    @model_validator(mode="after")
    def _default_id(self) -> PoolInstance:
        if not self.id:
            object.__setattr__(self, "id", self.url.split("://", 1)[-1])
        return self


class LoadBalancing(BaseModel):
    """How a host is picked: ``strategy``; an unhealthy host is asked again (``/api/tags``) after
    ``health_check_interval`` seconds. ``failover`` and ``retry_attempts`` are the original's: here the
    task's retries (Temporal's) carry a failed attempt to another host."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    strategy: Strategy = "least_loaded"
    health_check_interval: float = Field(default=30.0, gt=0)
    failover: bool = True
    retry_attempts: int | None = None


class OllamaPoolConfig(BaseModel):
    """The pool: its instances and how tasks are spread over them."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["ollama_pool"] = "ollama_pool"
    instances: list[PoolInstance] = Field(min_length=1)
    load_balancing: LoadBalancing = Field(default_factory=LoadBalancing)

    @model_validator(mode="after")
    def _unique(self) -> OllamaPoolConfig:
        seen: set[str] = set()
        for what in ("id", "url"):
            seen.clear()
            for inst in self.instances:
                key = getattr(inst, what)
                if key in seen:
                    raise ValueError(
                        f"two instances have the {what} {key!r}; each host once, with its own id"
                    )
                seen.add(key)
        return self

    def instance_of(self, url: str) -> PoolInstance | None:
        return next((i for i in self.instances if i.url == url), None)


def hosts_pool(hosts: list[str], **extra: Any) -> OllamaPoolConfig | None:
    """A pool of plain host addresses (``OLLAMA_HOSTS``): ids are their addresses, models discovered."""
    urls = [h for h in (h.strip() for h in hosts) if h]
    if not urls:
        return None
    return OllamaPoolConfig(instances=[PoolInstance(url=u) for u in urls], **extra)
