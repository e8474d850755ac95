"""``gleitzeit test --record``: run each case once against the real LLM server and write the answers
it got into the test file's ``llm:`` block (the case's own block in a ``cases:`` file): a golden file
to read and edit.

The rest of the file is kept as written (comments too): only the ``llm:`` block's lines are replaced
(or added), found through the YAML positions the loader records.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from gleitzeit.activities.llm import LlmActivities
from gleitzeit.config import Settings
from gleitzeit.dsl.positions import Path as YamlPath
from gleitzeit.dsl.positions import parse_yaml
from gleitzeit.services.llm import ensure_llm_server
from gleitzeit.testing.doubles import LLM_ACTIVITIES
from gleitzeit.testing.result import PipelineRun
from gleitzeit.testing.scripted import Script
from gleitzeit.testing.session import TestSession
from gleitzeit.testing.testfile import TestFile

__all__ = ["real_llm_activities", "record_files", "recorded_entries", "write_llm_block"]


def real_llm_activities(settings: Settings) -> dict[str, Any]:
    """The real LLM activities by name, for the test worker to call instead of scripted answers."""
    llm = LlmActivities(settings)
    real = {
        "llm.chat": llm.chat,
        "llm.generate": llm.generate,
        "llm.vision": llm.vision,
        "llm.embed": llm.embed,
    }
    assert set(real) == set(LLM_ACTIVITIES)
    return real


def recorded_entries(run: PipelineRun) -> list[dict[str, Any]]:
    """One ``llm:`` entry per task that got answers, in call order (a list reply for several calls)."""
    replies: dict[str, list[Any]] = {}
    for call in run.llm_calls:
        if call.answer is None:
            continue
        answer = call.answer
        if call.method == "llm/embed":
            reply: Any = {"embedding": answer.get("embedding", [])}
        elif answer.get("parsed") is not None:
            reply = answer["parsed"]
        else:
            reply = answer.get("response", "")
        replies.setdefault(call.task_id, []).append(reply)
    return [
        {"task": task, "reply": answers[0] if len(answers) == 1 else answers}
        for task, answers in replies.items()
    ]


def write_llm_block(path: Path, where: YamlPath, entries: list[dict[str, Any]]) -> None:
    """Replace (or add) the ``llm:`` key of the mapping at ``where`` (``()`` or ``("cases", i)``)."""
    text = path.read_text(encoding="utf-8")
    _, positions, _, syntax = parse_yaml(text)
    if syntax is not None:
        raise ValueError(f"{path}: {syntax.message}")
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    key = (*where, "llm")
    if key in positions.keys:
        line, column = positions.keys[key]
        assert line is not None and column is not None
        start, indent = line - 1, column - 1
        end = _block_end(lines, start, indent)
    else:
        indent = _mapping_indent(positions, where)
        start = end = _mapping_end(lines, positions, where)
    body = yaml.dump(entries, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
    pad = " " * indent
    block = [f"{pad}llm:\n"] + [f"{pad}  {row}\n" for row in body.splitlines()]
    path.write_text("".join(lines[:start] + block + lines[end:]), encoding="utf-8")


class _Dumper(yaml.SafeDumper):
    """Block style, except lists of plain values (an embedding's 384 numbers) on one line."""


def _list(dumper: yaml.SafeDumper, value: list[Any]) -> yaml.Node:
    flat = all(isinstance(v, int | float | str | bool) or v is None for v in value)
    return dumper.represent_sequence("tag:yaml.org,2002:seq", value, flow_style=flat and bool(value))


_Dumper.add_representer(list, _list)


def _content(line: str) -> bool:
    stripped = line.strip()
    return bool(stripped) and not stripped.startswith("#")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _block_end(lines: list[str], start: int, indent: int) -> int:
    """The line after the last line that belongs to the key at ``start`` (trailing comments stay)."""
    last = start
    for i in range(start + 1, len(lines)):
        line = lines[i]
        if not _content(line):
            continue
        deeper = _indent(line) > indent
        item = _indent(line) == indent and line.lstrip().startswith("- ")
        if not (deeper or item):
            break
        last = i
    return last + 1


def _mapping_indent(positions: Any, where: YamlPath) -> int:
    if not where:
        return 0
    columns = [col for path, (_, col) in positions.keys.items() if path[:-1] == where and col]
    return (min(columns) - 1) if columns else 2


def _mapping_end(lines: list[str], positions: Any, where: YamlPath) -> int:
    if not where:
        return len(lines)
    rows = [row for path, (row, _) in positions.keys.items() if path[: len(where)] == where and row]
    rows += [row for path, (row, _) in positions.values.items() if path[: len(where)] == where and row]
    last = max(rows) - 1
    indent = _mapping_indent(positions, where)
    return _block_end(lines, last, indent) if last >= 0 else len(lines)


async def record_files(
    files: Sequence[TestFile],
    settings: Settings,
    on_case: Callable[[str, str, PipelineRun], None] | None = None,
) -> list[PipelineRun]:
    """Run every case once with the real LLM activities (starting the embedded LLM server when
    nothing answers at OLLAMA_HOST, as ``gleitzeit run`` does) and write what they answered."""
    server = await ensure_llm_server(settings)
    runs: list[PipelineRun] = []
    try:
        async with TestSession(settings, llm_override=real_llm_activities(settings)) as session:
            for test in files:
                with_cases = isinstance(test.raw, dict) and isinstance(test.raw.get("cases"), list)
                for index, case in enumerate(test.cases):
                    # Recorded answers replace the scripted ones, so nothing scripted for the LLM applies.
                    script = Script(llm=[], scripts=case.script.scripts)
                    run = await session.run(test.spec, case.inputs, script)
                    runs.append(run)
                    where: YamlPath = ("cases", _case_index(test, case.name, index)) if with_cases else ()
                    write_llm_block(test.path, where, recorded_entries(run))
                    if on_case is not None:
                        on_case(str(test.path), case.name, run)
    finally:
        if server is not None:
            await server.astop()
    return runs


def _case_index(test: TestFile, name: str, fallback: int) -> int:
    for i, raw in enumerate(test.raw["cases"]):
        if isinstance(raw, dict) and raw.get("name") == name:
            return i
    return fallback
