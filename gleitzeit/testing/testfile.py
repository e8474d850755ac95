"""Load a ``*.test.yaml`` file: its pipeline, its cases, their scripted answers and expectations.

The format (README, "Testing your pipelines")::

    pipeline: summarise.yaml          # relative to this file
    inputs: {topic: rivers}
    llm:                              # scripted LLM answers, tried in order
      - task: write                   # by task id or name ...
        fail: 2                       # the first 2 calls fail as a transient error
        reply: "Rivers flow to the sea"
      - match: "^A title for: Rivers" # ... or by a regex on the last user message / prompt
        reply: "On Rivers"
    scripts:                          # replace a python task's result instead of running it
      - task: fetch
        result: {rows: 3}
    expect:
      status: completed               # completed | partial | failed | timed_out
      error: "timed out"              # a regex the failing task's message must contain
      outputs: {words: 5}
      results: {count: {result: {words: 5}}}
      attempts: {write: 3}
      skipped: [optional_task]

or, table-driven, ``cases:`` (a list, each with a ``name``, and any of ``inputs``, ``llm``,
``scripts``, ``expect``); file-level ``inputs``/``llm``/``scripts``/``expect`` are shared by the
cases (a case's own entries come first, its inputs and expect keys override).

Every problem is reported at once, located at its file:line:column like ``gleitzeit validate`` does
(the same YAML reader, problems and did-you-mean hints); the pipeline itself is loaded with the
dsl's ``load_workflow``, so a broken pipeline reports its own problems.

Why one module of ~490 lines: one loader walks one document and shares what it learnt on the way
(the pipeline's task ids and names, the reporter that locates problems) with every block it checks;
split by block, each part would take the same five arguments.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gleitzeit.contracts.spec import WorkflowSpec
from gleitzeit.core.errors import Problem, ValidationError
from gleitzeit.dsl.batch import expand_batch
from gleitzeit.dsl.inputs import bind_inputs
from gleitzeit.dsl.loader import load_workflow
from gleitzeit.dsl.positions import Path as YamlPath
from gleitzeit.dsl.positions import parse_yaml
from gleitzeit.dsl.report import Reporter, key_of
from gleitzeit.dsl.suggest import did_you_mean
from gleitzeit.testing.scripted import ALWAYS, LlmEntry, Script, ScriptEntry

__all__ = [
    "CASE_KEYS",
    "EXPECT_KEYS",
    "STATUSES",
    "TEST_SUFFIX",
    "Expect",
    "TestCase",
    "TestFile",
    "load_test_file",
]

TEST_SUFFIX = ".test.yaml"
TOP_KEYS = ("pipeline", "name", "description", "inputs", "llm", "scripts", "expect", "cases")
CASE_KEYS = ("name", "description", "inputs", "llm", "scripts", "expect")
EXPECT_KEYS = ("status", "error", "failed_task", "outputs", "results", "attempts", "skipped")
LLM_KEYS = ("task", "match", "reply", "fail", "error")
SCRIPT_KEYS = ("task", "result", "fail", "error")
STATUSES = ("completed", "partial", "failed", "timed_out")


@dataclass
class Expect:
    """What a case expects; ``None`` (or empty) means "not checked"."""

    status: str | None = None
    error: re.Pattern[str] | None = None
    failed_task: str | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
    results: dict[str, Any] = field(default_factory=dict)
    attempts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] | None = None


@dataclass
class TestCase:
    __test__ = False  # not a pytest test class, whatever its name

    name: str
    inputs: dict[str, Any]  # bound: the pipeline's defaults applied
    script: Script
    expect: Expect
    line: int | None = None


@dataclass
class TestFile:
    __test__ = False

    path: Path
    spec: WorkflowSpec
    cases: list[TestCase]
    raw: Any = None  # the parsed document (``--record`` edits it)


def load_test_file(path: str | os.PathLike[str]) -> TestFile:
    """Load and check a test file against its pipeline; raises ValidationError with every problem."""
    shown = os.fspath(path)
    try:
        text = Path(shown).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(
            problems=[Problem(f"cannot read test file: {exc}", file=shown, code="file-not-found")]
        ) from None
    data, positions, duplicates, syntax = parse_yaml(text)
    reporter = Reporter(shown, positions)
    if syntax is not None:
        raise ValidationError(
            problems=[
                Problem(
                    syntax.message, file=shown, line=syntax.line, column=syntax.column, code="yaml-syntax"
                )
            ]
        )
    for dup in duplicates:
        reporter.problems.append(
            Problem(
                f"key '{dup.key}' appears twice in the same mapping",
                file=shown,
                line=dup.line,
                column=dup.column,
                key=key_of((*dup.path, dup.key)),
                code="duplicate-key",
                hint=f"remove one of the two '{dup.key}' entries",
            )
        )
    loaded = _Loader(Path(shown), reporter).load(data)
    if reporter.problems or loaded is None:
        raise ValidationError(problems=reporter.sorted() or [Problem("the test file could not be loaded")])
    loaded.raw = data
    return loaded


class _Loader:
    def __init__(self, path: Path, reporter: Reporter) -> None:
        self.path = path
        self.r = reporter
        self.spec: WorkflowSpec | None = None
        self.task_ids: list[str] = []
        self.names: dict[str, str] = {}  # name -> id

    # -- the document ------------------------------------------------------------------------------

    def load(self, data: Any) -> TestFile | None:
        if not isinstance(data, dict):
            self.r.add(
                "wrong-type",
                "a test file must be a mapping with 'pipeline:' and 'expect:' (or 'cases:')",
                (),
                hint="start with 'pipeline: my_pipeline.yaml'",
            )
            return None
        self._keys(data, (), TOP_KEYS, "a test file")
        spec = self._pipeline(data)
        if spec is None:
            return None
        cases_raw = data.get("cases")
        cases: list[TestCase] = []
        if cases_raw is None:
            stem = self.path.name.removesuffix(TEST_SUFFIX)
            name = data.get("name") if isinstance(data.get("name"), str) else stem
            case = self._case(data, {}, (), str(name))
            if case is not None:
                cases.append(case)
        elif not isinstance(cases_raw, list) or not cases_raw:
            self.r.add("wrong-type", "'cases' must be a non-empty list of cases", ("cases",))
        else:
            seen: set[str] = set()
            for i, raw in enumerate(cases_raw):
                where: YamlPath = ("cases", i)
                if not isinstance(raw, dict):
                    self.r.add("wrong-type", "a case must be a mapping with a 'name'", where)
                    continue
                self._keys(raw, where, CASE_KEYS, "a case")
                name = raw.get("name")
                if not isinstance(name, str) or not name.strip():
                    self.r.add(
                        "missing-key",
                        "every case needs a 'name'",
                        where,
                        hint="add 'name: what this case checks'",
                    )
                    continue
                if name in seen:
                    self.r.add("duplicate-id", f"two cases are named '{name}'", (*where, "name"))
                seen.add(name)
                case = self._case(raw, data, where, name)
                if case is not None:
                    cases.append(case)
        return TestFile(self.path, spec, cases)

    def _pipeline(self, data: dict[str, Any]) -> WorkflowSpec | None:
        raw = data.get("pipeline")
        if not isinstance(raw, str) or not raw.strip():
            self.r.add(
                "missing-key",
                "'pipeline' must name the pipeline file this test runs",
                ("pipeline",) if "pipeline" in data else (),
                key="pipeline",
                hint="add 'pipeline: my_pipeline.yaml' (relative to this test file)",
            )
            return None
        target = self.path.parent / raw
        if not target.is_file():
            self.r.add(
                "file-not-found",
                f"pipeline file '{raw}' does not exist (looked for {target})",
                ("pipeline",),
                key="pipeline",
                hint="the path is relative to the test file",
            )
            return None
        try:
            spec = expand_batch(load_workflow(target))
        except ValidationError as exc:
            self.r.problems.extend(exc.problems or [Problem(str(exc), file=str(target))])
            return None
        self.spec = spec
        self.task_ids = [t.id for t in spec.tasks]
        self.names = {t.name: t.id for t in spec.tasks if t.name}
        return spec

    # -- one case ----------------------------------------------------------------------------------

    def _case(
        self, raw: dict[str, Any], shared: dict[str, Any], where: YamlPath, name: str
    ) -> TestCase | None:
        assert self.spec is not None
        before = len(self.r.problems)
        inputs = {**self._mapping(shared, "inputs", ()), **self._mapping(raw, "inputs", where)}
        llm = self._llm(raw, where) + (self._llm(shared, ()) if where else [])
        scripts = self._scripts(raw, where) + (self._scripts(shared, ()) if where else [])
        expect_raw = {**self._mapping(shared, "expect", ()), **self._mapping(raw, "expect", where)}
        expect = self._expect(raw, shared, expect_raw, where)
        bound: dict[str, Any] = {}
        try:
            bound = bind_inputs(self.spec, inputs)
        except ValidationError as exc:
            at = (*where, "inputs") if "inputs" in raw else ("inputs",) if "inputs" in shared else where
            for p in exc.problems:
                self.r.add(p.code, p.message, at, key=p.key, hint=p.hint)
        if len(self.r.problems) > before:
            return None
        line = self.r.line_of(where) if where else None
        return TestCase(name, bound, Script(llm=llm, scripts=scripts), expect, line)

    def _mapping(self, raw: dict[str, Any], key: str, where: YamlPath) -> dict[str, Any]:
        value = raw.get(key)
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.r.add("wrong-type", f"'{key}' must be a mapping", (*where, key), key=key)
            return {}
        return value

    def _list(self, raw: dict[str, Any], key: str, where: YamlPath) -> list[Any]:
        value = raw.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.r.add("wrong-type", f"'{key}' must be a list of entries", (*where, key), key=key)
            return []
        return value

    def _llm(self, raw: dict[str, Any], where: YamlPath) -> list[LlmEntry]:
        entries = []
        for i, item in enumerate(self._list(raw, "llm", where)):
            at: YamlPath = (*where, "llm", i)
            label = key_of(at)
            if not isinstance(item, dict):
                self.r.add("wrong-type", "an llm entry must be a mapping (task/match, reply)", at, key=label)
                continue
            self._keys(item, at, LLM_KEYS, "an llm entry")
            task = self._task_ref(item.get("task"), (*at, "task"))
            match = item.get("match")
            if match is not None:
                match = self._regex(match, (*at, "match"))
            fail = self._fail(item, at)
            if "reply" not in item and fail != ALWAYS:
                self.r.add(
                    "missing-key",
                    f"{label} has no 'reply'",
                    at,
                    key=label,
                    hint="add 'reply: ...' (text, a mapping for format: tasks, a list, or {embedding: [...]})",
                )
            error = item.get("error")
            entries.append(
                LlmEntry(item.get("reply"), task, match, fail, None if error is None else str(error), label)
            )
        return entries

    def _scripts(self, raw: dict[str, Any], where: YamlPath) -> list[ScriptEntry]:
        entries = []
        for i, item in enumerate(self._list(raw, "scripts", where)):
            at: YamlPath = (*where, "scripts", i)
            label = key_of(at)
            if not isinstance(item, dict):
                self.r.add("wrong-type", "a scripts entry must be a mapping (task, result)", at, key=label)
                continue
            self._keys(item, at, SCRIPT_KEYS, "a scripts entry")
            task = self._task_ref(item.get("task"), (*at, "task"), required=True)
            if task is not None and self.spec is not None:
                method = self.spec.task(self._id(task)).method
                if not method.startswith("python/"):
                    self.r.add(
                        "invalid-value",
                        f"task '{task}' is {method}: scripts: replaces python tasks only",
                        (*at, "task"),
                        key=label,
                        hint="script an LLM task's answer under llm:",
                    )
            error = item.get("error")
            entries.append(
                ScriptEntry(
                    task or "",
                    item.get("result"),
                    self._fail(item, at),
                    None if error is None else str(error),
                    label,
                )
            )
        return entries

    def _expect(
        self, raw: dict[str, Any], shared: dict[str, Any], expect: dict[str, Any], where: YamlPath
    ) -> Expect:
        # Problems point at the expect block that holds the key: the case's own, else the file's.
        def at(key: str) -> YamlPath:
            own = isinstance(raw.get("expect"), dict) and key in raw["expect"]
            return (*where, "expect", key) if own or not where else ("expect", key)

        for key in expect:
            if key not in EXPECT_KEYS:
                self.r.add(
                    "unknown-key",
                    f"unknown expect key '{key}'",
                    at(key),
                    key=f"expect.{key}",
                    hint=did_you_mean(
                        str(key), EXPECT_KEYS, otherwise="expect takes: " + ", ".join(EXPECT_KEYS)
                    ),
                    at="key",
                )
        result = Expect()
        status = expect.get("status")
        if status is not None:
            if status not in STATUSES:
                self.r.add(
                    "invalid-value",
                    f"expect.status must be one of {', '.join(STATUSES)}, not {status!r}",
                    at("status"),
                    key="expect.status",
                    hint=did_you_mean(str(status), STATUSES),
                )
            result.status = str(status)
        if expect.get("error") is not None:
            pattern = self._regex(expect["error"], at("error"))
            result.error = re.compile(pattern) if pattern is not None and _compiles(pattern) else None
        if expect.get("failed_task") is not None:
            result.failed_task = self._task_ref(expect["failed_task"], at("failed_task"))
        outputs = expect.get("outputs")
        if outputs is not None:
            if not isinstance(outputs, dict):
                self.r.add("wrong-type", "expect.outputs must be a mapping", at("outputs"))
            else:
                declared = list(self.spec.outputs) if self.spec else []
                for name in outputs:
                    if name not in declared:
                        self.r.add(
                            "unknown-reference",
                            f"the pipeline has no output '{name}'",
                            (*at("outputs"), name),
                            key=f"expect.outputs.{name}",
                            hint=did_you_mean(
                                str(name),
                                declared,
                                otherwise="its outputs: " + (", ".join(declared) or "none"),
                            ),
                            at="key",
                        )
                result.outputs = outputs
        results = expect.get("results")
        if results is not None:
            if not isinstance(results, dict):
                self.r.add("wrong-type", "expect.results must be a mapping of task -> result", at("results"))
            else:
                result.results = {
                    self._id(self._task_ref(k, (*at("results"), k), at_key=True) or k): v
                    for k, v in results.items()
                }
        attempts = expect.get("attempts")
        if attempts is not None:
            if not isinstance(attempts, dict):
                self.r.add("wrong-type", "expect.attempts must be a mapping of task -> count", at("attempts"))
            else:
                for k, v in attempts.items():
                    self._task_ref(k, (*at("attempts"), k), at_key=True)
                    if not isinstance(v, int) or isinstance(v, bool) or v < 0:
                        self.r.add(
                            "wrong-type", f"expect.attempts.{k} must be a whole number", (*at("attempts"), k)
                        )
                result.attempts = {str(k): int(v) for k, v in attempts.items() if isinstance(v, int)}
        skipped = expect.get("skipped")
        if skipped is not None:
            if not isinstance(skipped, list):
                self.r.add("wrong-type", "expect.skipped must be a list of task ids", at("skipped"))
            else:
                result.skipped = [
                    self._id(self._task_ref(t, (*at("skipped"), i)) or str(t)) for i, t in enumerate(skipped)
                ]
        return result

    # -- small checks ------------------------------------------------------------------------------

    def _keys(self, raw: dict[str, Any], where: YamlPath, allowed: tuple[str, ...], what: str) -> None:
        for key in raw:
            if key not in allowed:
                self.r.add(
                    "unknown-key",
                    f"unknown key '{key}' in {what}",
                    (*where, key),
                    key=key_of((*where, key)),
                    hint=did_you_mean(str(key), allowed, otherwise="allowed: " + ", ".join(allowed)),
                    at="key",
                )

    def _id(self, task: str) -> str:
        return self.names.get(task, task) if task not in self.task_ids else task

    def _task_ref(
        self, value: Any, at: YamlPath, *, required: bool = False, at_key: bool = False
    ) -> str | None:
        if value is None:
            if required:
                self.r.add("missing-key", "name the task ('task: ...')", at[:-1], key=key_of(at))
            return None
        task = str(value)
        if task in self.task_ids or task in self.names:
            return task
        known = [*self.task_ids, *self.names]
        self.r.add(
            "unknown-task",
            f"the pipeline has no task '{task}'",
            at,
            key=key_of(at),
            hint=did_you_mean(task, known, otherwise="its tasks: " + ", ".join(self.task_ids)),
            at="key" if at_key else "value",
        )
        return None

    def _regex(self, value: Any, at: YamlPath) -> str | None:
        pattern = str(value)
        try:
            re.compile(pattern)
        except re.error as exc:
            self.r.add(
                "bad-regex",
                f"'{pattern}' is not a valid regular expression: {exc}",
                at,
                key=key_of(at),
                hint="escape special characters with a backslash (\\( \\. \\[), or quote the text",
            )
            return None
        return pattern

    def _fail(self, item: dict[str, Any], at: YamlPath) -> int:
        fail = item.get("fail", 0)
        if fail == "always":
            return ALWAYS
        if isinstance(fail, bool) or not isinstance(fail, int) or fail < 0:
            self.r.add(
                "wrong-type",
                f"'fail' must be a number of calls or 'always', not {fail!r}",
                (*at, "fail"),
                key=key_of((*at, "fail")),
            )
            return 0
        return fail


def _compiles(pattern: str) -> bool:
    try:
        re.compile(pattern)
    except re.error:
        return False
    return True
