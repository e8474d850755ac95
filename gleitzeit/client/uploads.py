"""Uploaded files, stored content-addressed: ``<uploads_dir>/<sha256>/<name>``.

One ``UploadBatch`` per request (``POST /v1/files``) or per ``upload_files`` call in native mode.
Each file goes to a private temporary file under ``<uploads_dir>/.incoming`` while its bytes are
counted and hashed; the limits are checked on every chunk, so an oversized upload stops at the limit
instead of landing whole on disk. ``commit`` moves the files into place, ``abort`` removes every
temporary file: a refused request leaves nothing behind.

The same content is stored once: a second upload of it under the same name finds the file there,
under another name it becomes a hard link to the stored bytes. The name is kept (not only the hash)
because tasks care about it: an LLM task picks how to read a file by its extension.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from gleitzeit.core.errors import NotFoundError, PayloadTooLargeError, Problem, ValidationError
from gleitzeit.core.models import UploadedFile

__all__ = [
    "COPY_CHUNK",
    "UploadBatch",
    "check_file_name",
    "copy_into_store",
    "find_upload",
]

INCOMING = ".incoming"
COPY_CHUNK = 1024 * 1024
# What file systems accept for one path component (ext4, xfs, btrfs, apfs).
MAX_NAME_BYTES = 255
_HEX = frozenset("0123456789abcdef")
_NAME_HINT = "send a plain file name such as 'report.pdf' (no directories, no control characters)"


def _bad_name(raw: str, where: str, why: str) -> ValidationError:
    message = f"{where}: the file name {raw!r} {why}; {_NAME_HINT}"
    return ValidationError(message, problems=[Problem(message, key=where, code="bad-file-name")])


def check_file_name(raw: str | None, where: str = "file") -> str:
    """The name a file is stored under; ValidationError naming ``where`` when it cannot be one.

    Refused rather than silently rewritten, so what the caller sees is what a task will open.
    """
    if raw is None:
        raise _bad_name("", where, "is missing (a multipart part without filename=)")
    name = unicodedata.normalize("NFC", raw).strip()
    if not name:
        raise _bad_name(raw, where, "is empty")
    if name in (".", ".."):
        raise _bad_name(raw, where, "names a directory")
    if "/" in name or "\\" in name:
        raise _bad_name(raw, where, "contains a path separator")
    if any(unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") for c in name):
        raise _bad_name(raw, where, "contains control characters")
    if name.startswith(INCOMING):
        raise _bad_name(raw, where, f"starts with '{INCOMING}' (reserved)")
    if len(name.encode()) > MAX_NAME_BYTES:
        raise _bad_name(raw, where, f"is longer than {MAX_NAME_BYTES} bytes")
    return name


@dataclass
class _Incoming:
    name: str
    temp: Path
    handle: IO[bytes]
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)
    size: int = 0


class UploadBatch:
    """The files of one request: ``open`` each, ``write`` its chunks, then ``commit`` (or ``abort``).

    ``max_file_bytes`` / ``max_request_bytes`` (None: no limit) raise ``PayloadTooLargeError`` from
    the ``write`` that crosses them. Not thread-safe; one batch is filled by one request.
    """

    def __init__(
        self, root: Path, *, max_file_bytes: int | None = None, max_request_bytes: int | None = None
    ) -> None:
        # Resolved, so the paths answered compare equal to the API's (resolved) file roots.
        self.root = Path(os.path.realpath(root))
        self.max_file_bytes = max_file_bytes
        self.max_request_bytes = max_request_bytes
        self.total = 0
        self._files: list[_Incoming] = []

    @property
    def current(self) -> _Incoming | None:
        return self._files[-1] if self._files else None

    def open(self, raw_name: str | None, where: str = "file") -> str:
        """Start the next file; its checked name."""
        name = check_file_name(raw_name, where)
        self._close_current()
        incoming = self.root / INCOMING
        incoming.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=incoming, prefix=INCOMING)
        self._files.append(_Incoming(name, Path(temp), os.fdopen(fd, "wb")))
        return name

    def write(self, data: bytes) -> None:
        current = self.current
        if current is None:
            raise ValidationError("no file is open to write to")
        current.size += len(data)
        self.total += len(data)
        if self.max_file_bytes is not None and current.size > self.max_file_bytes:
            raise PayloadTooLargeError(
                f"file '{current.name}' is larger than {self.max_file_bytes:,} bytes, the most this "
                "server accepts per file (GLEITZEIT_UPLOAD_MAX_FILE_BYTES); nothing was stored"
            )
        if self.max_request_bytes is not None and self.total > self.max_request_bytes:
            raise PayloadTooLargeError(
                f"the upload is larger than {self.max_request_bytes:,} bytes, the most this server "
                "accepts per request (GLEITZEIT_UPLOAD_MAX_REQUEST_BYTES); send the files in several "
                "requests; nothing was stored"
            )
        current.digest.update(data)
        current.handle.write(data)

    def _close_current(self) -> None:
        current = self.current
        if current is not None and not current.handle.closed:
            current.handle.close()

    def commit(self) -> list[UploadedFile]:
        """Move every file into place; what each became."""
        self._close_current()
        stored = [self._place(f) for f in self._files]
        self._files = []
        return stored

    def abort(self) -> None:
        """Remove every temporary file of this batch (the stored ones of earlier requests stay)."""
        for f in self._files:
            if not f.handle.closed:
                f.handle.close()
            f.temp.unlink(missing_ok=True)
        self._files = []

    def _place(self, f: _Incoming) -> UploadedFile:
        sha = f.digest.hexdigest()
        folder = self.root / sha
        folder.mkdir(parents=True, exist_ok=True)
        final = folder / f.name
        # Readable by the worker and by a sandbox that runs scripts as another uid.
        os.chmod(f.temp, 0o644)
        siblings = [p for p in folder.iterdir() if p.is_file() and p.name != f.name]
        duplicate = final.exists() or bool(siblings)
        try:
            if final.exists():
                pass
            elif siblings:
                _link_or_copy(siblings[0], final)
            else:
                os.link(f.temp, final)  # never replaces: a concurrent upload of the same bytes wins
        except FileExistsError:
            duplicate = True
        finally:
            f.temp.unlink(missing_ok=True)
        return UploadedFile(
            id=sha, name=f.name, size=f.size, sha256=sha, path=str(final), duplicate=duplicate
        )


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.link(source, target)
    except OSError as exc:
        if isinstance(exc, FileExistsError):
            raise
        shutil.copyfile(source, target)  # a file system without hard links


def copy_into_store(root: Path, paths: Iterable[str | os.PathLike[str]]) -> list[UploadedFile]:
    """Native mode's ``upload_files``: copy local files into the store, in chunks, all or none."""
    batch = UploadBatch(root)
    try:
        for i, raw in enumerate(paths):
            source = Path(os.fspath(raw)).expanduser()
            if not source.is_file():
                raise NotFoundError(f"file to upload '{os.fspath(raw)}' not found (or not a file)")
            batch.open(source.name, f"files[{i}]")
            with source.open("rb") as handle:
                while chunk := handle.read(COPY_CHUNK):
                    batch.write(chunk)
        return batch.commit()
    except BaseException:
        batch.abort()
        raise


def find_upload(root: Path, file_id: str) -> list[UploadedFile]:
    """Every name stored for ``file_id`` (a SHA-256); NotFoundError when there is none."""
    key = file_id.strip().lower()
    folder = Path(os.path.realpath(root)) / key
    if len(key) != 64 or not set(key) <= _HEX or not folder.is_dir():
        raise NotFoundError(
            f"no uploaded file with id '{file_id}' (an id is the SHA-256 POST /v1/files answered)"
        )
    found = [
        UploadedFile(id=key, name=p.name, size=p.stat().st_size, sha256=key, path=str(p))
        for p in sorted(folder.iterdir())
        if p.is_file()
    ]
    if not found:
        raise NotFoundError(f"no uploaded file with id '{file_id}'")
    return found
