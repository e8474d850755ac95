"""Load a workflow from a file, YAML text or a dict: validated, normalised, every problem at once.

``load_workflow`` raises ``gleitzeit.core.errors.ValidationError`` whose ``.problems`` lists each
problem with its file, line and column (from the YAML node marks), task, key, message, hint and a
stable ``code``: yaml-syntax, duplicate-key, empty, wrong-type, unknown-key, missing-key, invalid-value,
no-tasks, missing-id, bad-id, duplicate-id, missing-method, unknown-method, unknown-protocol,
protocol-mismatch, both-params, unknown-parameter, missing-parameter, parameter-type,
conflicting-parameters, file-not-found, unknown-dependency, cycle, reference-syntax,
unknown-reference, unknown-field, unknown-input, condition-syntax, input-type, bad-name, and the
refusals of a document too costly to read: too-large, too-many-aliases, too-deep, recursive-alias,
not-text (``REFUSALS``). Dict input has no lines, but problems still name the task and key.

Bounded: a file is read up to ``max_bytes`` (default ``Settings.max_pipeline_bytes``) and no further,
YAML text is measured the same way, the parser refuses alias bombs and deep nesting as it composes
(:mod:`gleitzeit.dsl.positions`), and every document, dicts included, is walked once for its size,
depth and numbers before anything recursive touches it (:mod:`gleitzeit.dsl.bounds`).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import PayloadTooLargeError, Problem, ValidationError
from gleitzeit.core.limits import limits
from gleitzeit.dsl.bounds import check_document
from gleitzeit.dsl.builder import build_spec
from gleitzeit.dsl.positions import parse_yaml
from gleitzeit.dsl.report import Reporter, key_of

__all__ = ["REFUSALS", "Source", "load_workflow", "load_workflow_text", "validate_workflow"]

Source = str | os.PathLike[str] | Mapping[str, Any]
_SUFFIXES = (".yaml", ".yml", ".json")
# Problems that mean the document was not read as a workflow at all (`gleitzeit validate` exits 2).
REFUSALS = frozenset({"too-large", "too-many-aliases", "too-deep", "recursive-alias", "not-text"})
_HINTS = {
    "too-many-aliases": "repeat fewer or smaller blocks with *alias, or write the values out",
    "too-deep": "flatten the structure, or move the data into a file a task reads",
    "recursive-alias": "an alias cannot repeat the block it stands in; write the value out",
    "number-too-long": "write a number in range, or quote it to pass it as text",
    "not-text": "remove it; if the file is UTF-16 without a byte order mark or binary, save it as UTF-8 text",
}
_UTF16_BOMS = (b"\xff\xfe", b"\xfe\xff")


def _is_path(source: str | os.PathLike[str]) -> bool:
    if isinstance(source, os.PathLike):
        return True
    if "\n" in source or "\0" in source:
        return False
    return source.strip().lower().endswith(_SUFFIXES) or os.path.isfile(source)


def _item(seq: Any, index: Any) -> Any:
    if isinstance(seq, list) and isinstance(index, int) and 0 <= index < len(seq):
        return seq[index]
    return None


def _syntax_hint(text: str, line: int | None) -> str:
    lines = text.splitlines()
    near = lines[max(0, (line or 1) - 2) : line or 1]
    if any("${" in x for x in near):
        return 'quote values holding ${...} inside [...] or {...}, e.g. ["${a.response}"]'
    return "fix the YAML at this spot (indentation, a missing ':' or an unclosed quote or bracket)"


def _max_bytes(max_bytes: int | None) -> int:
    return limits().max_pipeline_bytes if max_bytes is None else max_bytes


def _too_large(size: str, limit: int, file: str | None, line: int | None) -> Problem:
    return Problem(
        f"the workflow is larger than {limit:,} bytes ({size}); the limit stops here",
        file=file,
        line=line,
        code="too-large",
        hint="split it, or move large data into a file a task reads "
        "(GLEITZEIT_MAX_PIPELINE_BYTES raises the limit)",
    )


def _decode(raw: bytes, shown: str) -> tuple[str | None, Problem | None]:
    """The text of a workflow file: UTF-8 (a BOM is dropped), or UTF-16 with its BOM as YAML allows."""
    try:
        if raw.startswith(_UTF16_BOMS):
            return raw.decode("utf-16"), None
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        bad = raw[: exc.start]
        line = bad.count(b"\n") + 1
        column = exc.start - (bad.rfind(b"\n") + 1) + 1
        utf16 = len(raw) >= 4 and (raw[1:4:2] == b"\0\0" or raw[0:3:2] == b"\0\0")
        return None, Problem(
            f"the file is not UTF-8 text (byte 0x{raw[exc.start]:02x} cannot start a character here)",
            file=shown,
            line=line,
            column=column,
            code="not-text",
            hint="save it as UTF-8 (it looks like UTF-16 without a byte order mark)"
            if utf16
            else "save it as UTF-8; binary data belongs in a file a task reads",
        )


def _read(path: Path, shown: str, max_bytes: int) -> tuple[str | None, list[Problem]]:
    """The file's text, read no further than ``max_bytes`` (a FIFO or /dev/zero cannot hold us)."""
    try:
        with path.open("rb") as fh:
            raw = fh.read(max_bytes + 1)
    except FileNotFoundError:
        return None, [
            Problem(
                f"workflow file '{shown}' does not exist",
                file=shown,
                code="file-not-found",
                hint="check the path (it is relative to the current directory)",
            )
        ]
    except (OSError, ValueError) as exc:
        return None, [
            Problem(
                f"cannot read workflow file: {exc}",
                file=shown,
                code="file-not-found",
                hint="pass a readable UTF-8 YAML file",
            )
        ]
    if len(raw) > max_bytes:
        return None, [_too_large("it goes on", max_bytes, shown, raw[:max_bytes].count(b"\n") + 1)]
    text, problem = _decode(raw, shown)
    return text, [problem] if problem else []


def _from_text(
    text: str, filename: str | None, source_file: str | None, base_dir: str, max_bytes: int
) -> tuple[WorkflowSpec | None, list[Problem]]:
    # Characters are at most 4 bytes: only a text near the limit is encoded to measure it.
    if len(text) > max_bytes // 4:
        size = len(text.encode("utf-8", "surrogatepass"))
        if size > max_bytes:
            line = text.count("\n", 0, max_bytes) + 1
            return None, [_too_large(f"{size:,} bytes", max_bytes, filename, line)]
    data, positions, duplicates, syntax = parse_yaml(text)
    reporter = Reporter(filename, positions)
    if syntax is not None:
        reporter.problems.append(
            Problem(
                message=syntax.message,
                file=filename,
                line=syntax.line,
                column=syntax.column,
                code=syntax.code,
                hint=_HINTS.get(syntax.code) or _syntax_hint(text, syntax.line),
            )
        )
        return None, reporter.problems
    bounds = Reporter(filename, positions)
    if not check_document(data, bounds):
        return None, bounds.problems
    for dup in duplicates:
        task = None
        if len(dup.path) >= 2 and dup.path[0] == "tasks" and isinstance(data, dict):
            entry = _item(data.get("tasks"), dup.path[1])
            task = (
                str(entry.get("id") or entry.get("name") or "") or None if isinstance(entry, dict) else None
            )
        reporter.problems.append(
            Problem(
                message=f"key '{dup.key}' appears twice in the same mapping",
                file=filename,
                line=dup.line,
                column=dup.column,
                task=task,
                key=key_of((*dup.path[2:], dup.key) if task else (*dup.path, dup.key)),
                code="duplicate-key",
                hint=f"remove one of the two '{dup.key}' entries (only the last one would count)",
            )
        )
    spec = build_spec(data, reporter, source_file=source_file, base_dir=base_dir)
    _add_bounds(reporter, bounds)
    return (spec if not reporter.problems else None), reporter.sorted()


def _add_bounds(reporter: Reporter, bounds: Reporter) -> None:
    """Numbers out of range that no specific check (with its own wording) reported at the same spot."""
    seen = {(p.line, p.column, p.task, p.key) for p in reporter.problems}
    reporter.problems.extend(p for p in bounds.problems if (p.line, p.column, p.task, p.key) not in seen)


def _load(
    source: Source, base_dir: str | None, max_bytes: int | None = None
) -> tuple[WorkflowSpec | None, list[Problem]]:
    limit = _max_bytes(max_bytes)
    if isinstance(source, Mapping):
        reporter, bounds = Reporter(None), Reporter(None)
        if not check_document(dict(source), bounds):
            return None, bounds.problems  # before deepcopy, which recurses
        data = copy.deepcopy(dict(source))  # the loader never changes what it was given
        spec = build_spec(data, reporter, source_file=None, base_dir=os.path.abspath(base_dir or os.getcwd()))
        _add_bounds(reporter, bounds)
        return (spec if not reporter.problems else None), reporter.problems
    if not isinstance(source, str | os.PathLike):
        return None, [
            Problem(
                f"cannot load a workflow from {type(source).__name__}",
                code="wrong-type",
                hint="pass a file path, YAML text or a dict",
            )
        ]
    if _is_path(source):
        shown = os.fspath(source)
        path = Path(shown)
        text, problems = _read(path, shown, limit)
        if text is None:
            return None, problems
        resolved = path.resolve()
        return _from_text(text, shown, str(resolved), os.path.abspath(base_dir or resolved.parent), limit)
    return _from_text(os.fspath(source), None, None, os.path.abspath(base_dir or os.getcwd()), limit)


def _raise(problems: list[Problem]) -> NoReturn:
    problems = problems or [Problem("the workflow could not be loaded")]
    if any(p.code == "too-large" for p in problems):
        raise PayloadTooLargeError(problems=problems)
    raise ValidationError(problems=problems)


def load_workflow(
    source: Source, *, base_dir: str | None = None, max_bytes: int | None = None
) -> WorkflowSpec:
    """Load, validate and normalise a workflow.

    ``source`` is a path (a ``PathLike``, or a str naming an existing file or ending in .yaml/.yml/.json),
    YAML text, or a dict. ``base_dir`` (where relative file paths resolve) defaults to the file's
    directory, else the current directory; ``max_bytes`` (default ``Settings.max_pipeline_bytes``)
    caps the file or text. Raises ValidationError listing every problem (PayloadTooLargeError, one of
    them, when the source is over ``max_bytes`` or holds too many values).
    """
    spec, problems = _load(source, base_dir, max_bytes)
    if problems or spec is None:
        _raise(problems)
    return spec


def load_workflow_text(
    text: str, filename: str | None = None, *, base_dir: str | None = None, max_bytes: int | None = None
) -> WorkflowSpec:
    """Load a workflow from YAML text; ``filename`` is what problems name (and, if it exists, base_dir)."""
    if base_dir is None and filename is not None and os.path.exists(filename):
        base_dir = os.path.dirname(os.path.abspath(filename))
    source_file = os.path.abspath(filename) if filename else None
    spec, problems = _from_text(
        text, filename, source_file, os.path.abspath(base_dir or os.getcwd()), _max_bytes(max_bytes)
    )
    if problems or spec is None:
        _raise(problems)
    return spec


def validate_workflow(
    source: Source, *, base_dir: str | None = None, max_bytes: int | None = None
) -> list[Problem]:
    """Every problem with a workflow (an empty list when it is valid); never raises for bad input."""
    return _load(source, base_dir, max_bytes)[1]
