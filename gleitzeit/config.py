"""One Settings object for every part of Gleitzeit.

Every field can be set from the environment with the ``GLEITZEIT_`` prefix
(``GLEITZEIT_TEMPORAL_ADDRESS=host:7233``); the LLM server address is read from ``OLLAMA_HOST``
as Ollama itself spells it (``GLEITZEIT_OLLAMA_HOST`` works too).
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

import platformdirs
from pydantic import AliasChoices, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from gleitzeit.core.limits import (
    DEFAULT_MAX_PIPELINE_BYTES,
    ENV_PREFIX,
    MAX_PARALLEL_LIMIT,
    Limits,
)
from gleitzeit.core.ollama_pool import OllamaPoolConfig, hosts_pool
from gleitzeit.core.units import parse_size

__all__ = [
    "DEFAULT_LLM_TIMEOUT",
    "DEFAULT_MAX_PARALLEL",
    "DEFAULT_MAX_PIPELINE_BYTES",
    "MAX_PARALLEL_LIMIT",
    "DEFAULT_OLLAMA_HOST",
    "DEFAULT_TASK_QUEUE",
    "DEFAULT_TEMPORAL_ADDRESS",
    "DEFAULT_UPLOAD_MAX_FILE_BYTES",
    "DEFAULT_UPLOAD_MAX_REQUEST_BYTES",
    "ExecutorKind",
    "Settings",
    "WorkerMode",
    "get_settings",
]

DEFAULT_TEMPORAL_ADDRESS = "localhost:7233"
DEFAULT_NAMESPACE = "default"
DEFAULT_TASK_QUEUE = "gleitzeit"
DEFAULT_OLLAMA_HOST = "http://localhost:11434"
DEFAULT_UI_PORT = 8233
DEFAULT_API_PORT = 8000
# Well under Temporal's 2,000 pending activities per workflow (FACTS.md).
DEFAULT_MAX_PARALLEL = 50
DEFAULT_LLM_TIMEOUT = 300.0
DEFAULT_SCRIPT_TIMEOUT = 60.0
# The largest result a task may return. Results over the offload threshold are stored under the
# data dir and cross Temporal (2 MiB per payload) as a reference (gleitzeit.activities.offload).
DEFAULT_MAX_RESULT_BYTES = 64 * 1024**2
DEFAULT_OFFLOAD_THRESHOLD_BYTES = 1024**2
DEFAULT_SANDBOX_IMAGE = "gleitzeit-sandbox:latest"
# POST /v1/files: documents and images of everyday size pass, a runaway upload does not fill the disk.
DEFAULT_UPLOAD_MAX_FILE_BYTES = 100 * 1024**2
DEFAULT_UPLOAD_MAX_REQUEST_BYTES = 500 * 1024**2

ExecutorKind = Literal["auto", "docker", "local"]
# auto: an in-process worker when no live worker polls the task queue and the Temporal server is on
# this machine (never against a cluster elsewhere); always; never.
WorkerMode = Literal["auto", "always", "never"]


class Settings(BaseSettings, Limits):
    """Runtime configuration. Construct directly to override, or rely on the environment.

    The limits a pipeline is checked against (``max_pipeline_bytes``, ``max_script_memory``,
    ``max_script_cpus``, ``file_roots``) come from ``gleitzeit.core.limits.Limits``: the dsl reads them
    with ``limits()``, without this class (see there why).
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", populate_by_name=True)

    # Temporal
    temporal_address: str = DEFAULT_TEMPORAL_ADDRESS
    namespace: str = DEFAULT_NAMESPACE
    task_queue: str = DEFAULT_TASK_QUEUE
    auto_start_temporal: bool = Field(
        default=True, description="start the embedded dev server when nothing answers (local addresses only)"
    )
    ui_port: int = DEFAULT_UI_PORT
    worker: WorkerMode = Field(
        default="auto",
        description="in-process worker of `gleitzeit run`, `gleitzeit serve` and the native client: auto "
        "(when no live worker polls the task queue and the Temporal server is on this machine), always, never",
    )
    data_dir: Path = Field(default_factory=lambda: Path(platformdirs.user_data_dir("gleitzeit")))

    # LLM server (Ollama API)
    ollama_host: str = Field(
        default=DEFAULT_OLLAMA_HOST,
        validation_alias=AliasChoices("OLLAMA_HOST", "GLEITZEIT_OLLAMA_HOST", "ollama_host"),
    )
    # Several Ollama hosts (docs/ollama_pool.md): the original's ``ollama_pool`` block as JSON, or a
    # plain list of hosts. Unset, every llm/* task goes to ollama_host as before.
    ollama_pool: OllamaPoolConfig | None = Field(
        default=None,
        description="several Ollama hosts: the original's providers.ollama_pool block as a JSON object "
        "(instances with id, url, models, max_concurrent, tags; load_balancing.strategy)",
    )
    # NoDecode: "http://a:11434,http://b:11434" is not JSON; _parse_urls reads both forms.
    ollama_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias=AliasChoices("OLLAMA_HOSTS", "GLEITZEIT_OLLAMA_HOSTS", "ollama_hosts"),
        description="several Ollama hosts, comma-separated (a pool whose models each host's /api/tags "
        "tells); ollama_pool, when set, wins",
    )
    auto_start_llm: bool = Field(
        default=True, description="start the embedded LLM server when nothing answers at OLLAMA_HOST"
    )
    llm_timeout: float = DEFAULT_LLM_TIMEOUT
    default_model: str = "smollm2:135m"
    # NoDecode: the environment's "a=b,c=d" is not JSON; _parse_aliases reads both forms.
    model_aliases: Annotated[dict[str, str], NoDecode] = Field(
        default_factory=dict,
        description="model names the worker's LLM activities replace before asking the server "
        '(GLEITZEIT_MODEL_ALIASES="llama3.2=smollm2:135m,b=c" or a JSON object), so pipelines '
        "written for models the server lacks run on one it has",
    )

    # OpenAI-compatible LLM servers (vLLM, llama.cpp's server, LM Studio ...): what an llm/* task uses
    # when neither it nor its pipeline's ``providers:`` block says (see docs/compatible_api.md).
    llm_provider: Literal["ollama", "openai"] = Field(
        default="ollama", description="who answers llm/* tasks that name no provider: ollama or openai"
    )
    openai_base_url: str | None = Field(
        default=None, description="provider openai: the server's base URL, e.g. http://localhost:8080/v1"
    )
    openai_api_key_env: str = Field(
        default="OPENAI_API_KEY",
        description="provider openai: the environment variable holding the key (unset: no key is sent)",
    )

    # Python scripts
    executor: ExecutorKind = "auto"
    sandbox_image: str = DEFAULT_SANDBOX_IMAGE
    script_timeout: float = DEFAULT_SCRIPT_TIMEOUT
    local_forkserver: bool = Field(
        default=True,
        description="executor local only: start each script by fork() from a warm interpreter on Linux "
        "(a trivial script 27.6 -> 5.2 ms); false starts a fresh python per script",
    )

    # Engine limits
    max_parallel: int = Field(default=DEFAULT_MAX_PARALLEL, ge=1, le=MAX_PARALLEL_LIMIT)
    max_result_bytes: int = Field(
        default=DEFAULT_MAX_RESULT_BYTES, description="the largest result a task may return (bytes of JSON)"
    )
    offload_threshold_bytes: int = Field(
        default=DEFAULT_OFFLOAD_THRESHOLD_BYTES,
        ge=1024,
        le=1_800_000,
        description="a task result whose JSON is larger is stored under <data_dir>/results and passed by "
        "reference (Temporal refuses payloads over 2 MiB); workers and the API must share the data dir",
    )
    workflow_sandbox: bool = Field(
        default=False,
        description="run workflow code in Temporal's sandbox (determinism checks; ~5 ms more per run)",
    )

    # Operations: `gleitzeit worker` serves /metrics and /healthz on metrics_host:metrics_port when set.
    metrics_port: int | None = Field(
        default=None, ge=0, le=65535, description="worker: port of its /metrics and /healthz endpoint"
    )
    metrics_host: str = Field(
        default="127.0.0.1", description="worker: address the metrics endpoint binds (0.0.0.0 in containers)"
    )
    # NoDecode: "host:9464,host2:9464" is not JSON; _parse_urls reads both forms.
    worker_health_urls: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="workers' health endpoints (host:port or URLs, comma-separated) that status reports",
    )
    tracing: bool = Field(
        default=False,
        description="OpenTelemetry spans for starts, workflows and activities (needs opentelemetry-sdk)",
    )

    # REST API
    api_host: str = "127.0.0.1"
    api_port: int = DEFAULT_API_PORT
    api_token: str | None = None
    upload_max_file_bytes: int = Field(
        default=DEFAULT_UPLOAD_MAX_FILE_BYTES,
        gt=0,
        description="POST /v1/files: the largest file accepted (bytes, or a size like 100m); 413 beyond",
    )
    upload_max_request_bytes: int = Field(
        default=DEFAULT_UPLOAD_MAX_REQUEST_BYTES,
        gt=0,
        description="POST /v1/files: the most bytes one request may carry (all its files); 413 beyond",
    )

    @field_validator("upload_max_file_bytes", "upload_max_request_bytes", mode="before")
    @classmethod
    def _size(cls, value: object) -> object:
        # The size grammar of `memory:` (100m, 1g, 512MiB); a plain number stays bytes.
        if isinstance(value, str):
            return parse_size(value)
        return value

    # MCP servers for mcp/tool.* tasks, in the original Gleitzeit's ``mcp.servers`` format: a JSON list
    # here (GLEITZEIT_MCP_SERVERS), and the ``mcp.servers`` of the original's config file.
    mcp_servers: list[dict[str, Any]] = Field(default_factory=list)
    mcp_config_file: Path = Field(default_factory=lambda: Path.home() / ".gleitzeit" / "config.yaml")

    @field_validator("ollama_host")
    @classmethod
    def _normalise_ollama_host(cls, value: str) -> str:
        # Ollama accepts "host:port" without a scheme; so do we.
        value = value.strip().rstrip("/")
        if "://" not in value:
            value = "http://" + value
        return value

    @field_validator("worker_health_urls", "ollama_hosts", mode="before")
    @classmethod
    def _parse_urls(cls, value: Any) -> Any:
        if isinstance(value, str):
            text = value.strip()
            return (
                json.loads(text)
                if text.startswith("[")
                else [u.strip() for u in text.split(",") if u.strip()]
            )
        return value

    @field_validator("model_aliases", mode="before")
    @classmethod
    def _parse_aliases(cls, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("{"):
            return json.loads(text)
        aliases: dict[str, str] = {}
        for pair in filter(None, (p.strip() for p in text.split(","))):
            name, sep, target = pair.partition("=")
            if not sep or not name.strip() or not target.strip():
                raise ValueError(
                    f"model alias '{pair}' must look like name=model (e.g. llama3.2=smollm2:135m)"
                )
            aliases[name.strip()] = target.strip()
        return aliases

    def pool(self) -> OllamaPoolConfig | None:
        """The worker's Ollama hosts when several are configured (``ollama_pool``, else ``OLLAMA_HOSTS``)."""
        return self.ollama_pool or hosts_pool(self.ollama_hosts)

    @property
    def dev_server_db(self) -> Path:
        return self.data_dir / "temporal.db"

    @property
    def uploads_dir(self) -> Path:
        """Where POST /v1/files and ``upload_files`` store files: ``<data_dir>/uploads/<sha256>/<name>``."""
        return self.data_dir / "uploads"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """Settings from the environment, read once per process."""
    return Settings()
