"""Just enough of the GGUF file format to read a model's metadata and to write a float32 model.

GGUF (llama.cpp's model format) is a small header of typed key/value pairs, a table of tensor
descriptions, then the aligned tensor data. Reading the key/values gives Ollama's ``model_info`` and the
chat template for ``/api/show``; writing lets us turn the bundled all-MiniLM safetensors into a file
llama.cpp loads, without torch or the ``gguf`` package.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

__all__ = ["GGUFTensor", "read_metadata", "write_gguf"]

MAGIC = b"GGUF"
VERSION = 3
ALIGNMENT = 32

# Value types of the key/value section.
_UINT8, _INT8, _UINT16, _INT16, _UINT32, _INT32, _FLOAT32, _BOOL, _STRING, _ARRAY = range(10)
_UINT64, _INT64, _FLOAT64 = 10, 11, 12
_SCALARS: dict[int, str] = {
    _UINT8: "<B",
    _INT8: "<b",
    _UINT16: "<H",
    _INT16: "<h",
    _UINT32: "<I",
    _INT32: "<i",
    _FLOAT32: "<f",
    _BOOL: "<?",
    _UINT64: "<Q",
    _INT64: "<q",
    _FLOAT64: "<d",
}
GGML_TYPE_F32 = 0


class _Reader:
    def __init__(self, f: BinaryIO) -> None:
        self.f = f

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        data = self.f.read(size)
        if len(data) != size:
            raise ValueError("truncated GGUF file")
        return struct.unpack(fmt, data)[0]

    def string(self) -> str:
        length = self.unpack("<Q")
        return self.f.read(length).decode("utf-8", errors="replace")

    def value(self, vtype: int, *, keep_arrays: bool) -> Any:
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            etype = self.unpack("<I")
            count = self.unpack("<Q")
            if not keep_arrays and etype in _SCALARS:
                # Token tables are huge and useless in metadata: skip their bytes.
                self.f.seek(count * struct.calcsize(_SCALARS[etype]), 1)
                return f"<array of {count}>"
            items = [self.value(etype, keep_arrays=keep_arrays) for _ in range(count)]
            return items if keep_arrays else f"<array of {count}>"
        return self.unpack(_SCALARS[vtype])


def read_metadata(path: str | Path, *, keep_arrays: bool = False) -> dict[str, Any]:
    """The key/value metadata of a GGUF file (arrays summarised unless ``keep_arrays``)."""
    with open(path, "rb") as f:
        if f.read(4) != MAGIC:
            raise ValueError(f"{path} is not a GGUF file")
        r = _Reader(f)
        version = r.unpack("<I")
        if version < 2:
            raise ValueError(f"{path}: GGUF version {version} is too old")
        r.unpack("<Q")  # tensor count
        kv_count = r.unpack("<Q")
        meta: dict[str, Any] = {}
        for _ in range(kv_count):
            key = r.string()
            vtype = r.unpack("<I")
            meta[key] = r.value(vtype, keep_arrays=keep_arrays)
        return meta


@dataclass(frozen=True)
class GGUFTensor:
    """A float32 tensor to write: its GGUF name, its shape as numpy/torch spell it, and a reader."""

    name: str
    shape: tuple[int, ...]
    nbytes: int
    read: Any  # () -> bytes


def _pack_string(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<Q", len(raw)) + raw


def _pack_value(value: Any) -> tuple[int, bytes]:
    if isinstance(value, bool):
        return _BOOL, struct.pack("<?", value)
    if isinstance(value, int):
        return _UINT32, struct.pack("<I", value)
    if isinstance(value, float):
        return _FLOAT32, struct.pack("<f", value)
    if isinstance(value, str):
        return _STRING, _pack_string(value)
    if isinstance(value, list | tuple):
        if all(isinstance(v, str) for v in value):
            body = b"".join(_pack_string(v) for v in value)
            return _ARRAY, struct.pack("<IQ", _STRING, len(value)) + body
        if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            return _ARRAY, struct.pack("<IQ", _INT32, len(value)) + struct.pack(f"<{len(value)}i", *value)
    raise TypeError(f"cannot store {type(value).__name__} in GGUF metadata")


def _pad(n: int) -> int:
    return (ALIGNMENT - n % ALIGNMENT) % ALIGNMENT


def write_gguf(path: str | Path, metadata: dict[str, Any], tensors: Iterable[GGUFTensor]) -> None:
    """Write a GGUF v3 file of float32 tensors. ``metadata`` ints are stored as uint32."""
    tensor_list = list(tensors)
    with open(path, "wb") as f:
        f.write(MAGIC + struct.pack("<IQQ", VERSION, len(tensor_list), len(metadata)))
        for key, value in metadata.items():
            vtype, body = _pack_value(value)
            f.write(_pack_string(key) + struct.pack("<I", vtype) + body)
        offset = 0
        for t in tensor_list:
            dims = tuple(reversed(t.shape))  # ggml lists the fastest-moving dimension first
            f.write(_pack_string(t.name) + struct.pack("<I", len(dims)))
            f.write(struct.pack(f"<{len(dims)}Q", *dims))
            f.write(struct.pack("<IQ", GGML_TYPE_F32, offset))
            offset += t.nbytes + _pad(t.nbytes)
        f.write(b"\0" * _pad(f.tell()))
        for t in tensor_list:
            data = t.read()
            if len(data) != t.nbytes:
                raise ValueError(f"tensor {t.name}: expected {t.nbytes} bytes, got {len(data)}")
            f.write(data)
            f.write(b"\0" * _pad(len(data)))
