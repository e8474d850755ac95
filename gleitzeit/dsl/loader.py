"""Load a workflow from a file, YAML text or a dict: validated, normalised, every problem at once.

``load_workflow`` raises ``gleitzeit.core.errors.ValidationError`` whose ``.problems`` lists each
problem with its file, line and column (from the YAML node marks), task, key, message, hint and a
stable ``code``: yaml-syntax, duplicate-key, empty, wrong-type, unknown-key, missing-key, invalid-value,
no-tasks, missing-id, bad-id, duplicate-id, missing-method, unknown-method, unknown-protocol,
protocol-mismatch, both-params, unknown-parameter, missing-parameter, parameter-type,
conflicting-parameters, file-not-found, unknown-dependency, cycle, reference-syntax,
unknown-reference, unknown-field, unknown-input, condition-syntax, input-type, bad-name.
Dict input has no lines, but problems still name the task and key.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import Problem, ValidationError
from gleitzeit.dsl.builder import build_spec
from gleitzeit.dsl.positions import parse_yaml
from gleitzeit.dsl.report import Reporter, key_of

__all__ = ["Source", "load_workflow", "load_workflow_text", "validate_workflow"]

Source = str | os.PathLike[str] | Mapping[str, Any]
_SUFFIXES = (".yaml", ".yml", ".json")


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


def _from_text(
    text: str, filename: str | None, source_file: str | None, base_dir: str
) -> tuple[WorkflowSpec | None, list[Problem]]:
    data, positions, duplicates, syntax = parse_yaml(text)
    reporter = Reporter(filename, positions)
    if syntax is not None:
        reporter.problems.append(
            Problem(
                message=syntax.message,
                file=filename,
                line=syntax.line,
                column=syntax.column,
                code="yaml-syntax",
                hint=_syntax_hint(text, syntax.line),
            )
        )
        return None, reporter.problems
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
    return (spec if not reporter.problems else None), reporter.sorted()


def _load(source: Source, base_dir: str | None) -> tuple[WorkflowSpec | None, list[Problem]]:
    if isinstance(source, Mapping):
        reporter = Reporter(None)
        data = copy.deepcopy(dict(source))  # the loader never changes what it was given
        spec = build_spec(data, reporter, source_file=None, base_dir=os.path.abspath(base_dir or os.getcwd()))
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
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None, [
                Problem(
                    f"workflow file '{shown}' does not exist",
                    file=shown,
                    code="file-not-found",
                    hint="check the path (it is relative to the current directory)",
                )
            ]
        except (OSError, UnicodeDecodeError) as exc:
            return None, [
                Problem(
                    f"cannot read workflow file: {exc}",
                    file=shown,
                    code="file-not-found",
                    hint="pass a readable UTF-8 YAML file",
                )
            ]
        resolved = path.resolve()
        return _from_text(text, shown, str(resolved), os.path.abspath(base_dir or resolved.parent))
    return _from_text(os.fspath(source), None, None, os.path.abspath(base_dir or os.getcwd()))


def load_workflow(source: Source, *, base_dir: str | None = None) -> WorkflowSpec:
    """Load, validate and normalise a workflow.

    ``source`` is a path (a ``PathLike``, or a str naming an existing file or ending in .yaml/.yml/.json),
    YAML text, or a dict. ``base_dir`` (where relative file paths resolve) defaults to the file's
    directory, else the current directory. Raises ValidationError listing every problem.
    """
    spec, problems = _load(source, base_dir)
    if problems or spec is None:
        raise ValidationError(problems=problems or [Problem("the workflow could not be loaded")])
    return spec


def load_workflow_text(
    text: str, filename: str | None = None, *, base_dir: str | None = None
) -> WorkflowSpec:
    """Load a workflow from YAML text; ``filename`` is what problems name (and, if it exists, base_dir)."""
    if base_dir is None and filename is not None and os.path.exists(filename):
        base_dir = os.path.dirname(os.path.abspath(filename))
    source_file = os.path.abspath(filename) if filename else None
    spec, problems = _from_text(text, filename, source_file, os.path.abspath(base_dir or os.getcwd()))
    if problems or spec is None:
        raise ValidationError(problems=problems or [Problem("the workflow could not be loaded")])
    return spec


def validate_workflow(source: Source, *, base_dir: str | None = None) -> list[Problem]:
    """Every problem with a workflow (an empty list when it is valid); never raises for bad input."""
    return _load(source, base_dir)[1]
