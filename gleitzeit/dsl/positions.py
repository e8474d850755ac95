"""Parse YAML while remembering where every mapping key and value starts.

``parse_yaml`` uses a ``SafeLoader`` subclass that records the start marks of each mapping key and
value (and each sequence item) as it constructs them; the marks are then attached to *paths* into the
constructed data (``("tasks", 2, "parameters", "model")``), so validation can name the line of any
value without guessing. Dict input has no positions: every lookup answers ``(None, None)``.

Two deliberate differences from plain ``yaml.safe_load``: duplicate keys in one mapping are reported
(PyYAML silently keeps the last), and timestamps stay strings (``version: 2024-01-01`` must not turn
into a ``date`` that no JSON converter can carry).

Bounded: PyYAML's safe loader expands aliases without limit (a 461-byte "billion laughs" file of 9
levels of 9 aliases stands for ~387M nodes, and whatever walks the data then pays for every one) and
composes nesting by recursion (600 levels are a RecursionError). So the composer counts as it builds:
every alias adds the size of the node it repeats, and past ``MAX_ALIAS_NODES`` the parse stops with
"too many aliases" at that alias; nesting deeper than ``MAX_DEPTH`` stops at the first node too deep; an
alias to a node that contains it (a recursive structure no JSON can carry) is refused. Each refusal is
a ``YamlSyntaxProblem`` with its line and a ``code`` (too-many-aliases, too-deep, recursive-alias,
number-too-long, and not-text for a character YAML forbids, such as NUL), costs milliseconds, and happens before anything walks the data.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import AliasEvent, CollectionStartEvent, ScalarEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

__all__ = [
    "MAX_ALIAS_NODES",
    "MAX_DEPTH",
    "Path",
    "Positions",
    "YamlDuplicateKey",
    "YamlSyntaxProblem",
    "parse_yaml",
]

# Nodes that aliases may add to a document in all (each alias counts the size of what it repeats).
# Real workflows repeat a few small blocks (shared parameters, `<<: *defaults`): hundreds of nodes.
MAX_ALIAS_NODES = 100_000
# Nesting levels of mappings and lists; a workflow needs ~8 (tasks > task > parameters > messages >
# message > ...), a JSON schema in `format` a few more. Well under what recursion can carry.
MAX_DEPTH = 100
# Digits of an integer: beyond 20 no setting can use it, and beyond 4,300 Python refuses to read it.
_MAX_INT_CHARS = 40

Path = tuple[str | int, ...]
Loc = tuple[int | None, int | None]


@dataclass(frozen=True)
class YamlSyntaxProblem:
    message: str
    line: int | None
    column: int | None
    code: str = "yaml-syntax"


@dataclass(frozen=True)
class YamlDuplicateKey:
    key: str
    path: Path  # the mapping holding the key
    line: int
    column: int


@dataclass
class Positions:
    """1-based (line, column) of keys and values by path; empty for dict input."""

    keys: dict[Path, Loc] = field(default_factory=dict)
    values: dict[Path, Loc] = field(default_factory=dict)

    def locate(self, path: Path, at: str = "value") -> Loc:
        """The position of ``path`` (its key with ``at="key"``), else of its nearest located ancestor."""
        table = self.keys if at == "key" else self.values
        if path in table:
            return table[path]
        if at == "key" and path in self.values:
            return self.values[path]
        p = path
        while p:
            p = p[:-1]
            if p in self.keys:
                return self.keys[p]
            if p in self.values:
                return self.values[p]
        return self.values.get((), (None, None))


def _loc(mark: Any) -> Loc:
    return (mark.line + 1, mark.column + 1)


class _Refused(yaml.MarkedYAMLError):
    """A document past one of the limits above; ``code`` names which."""

    def __init__(self, code: str, message: str, mark: Any) -> None:
        super().__init__(problem=message, problem_mark=mark)
        self.code = code


class _MarkingLoader(yaml.SafeLoader):
    """SafeLoader that records node start marks per constructed mapping/sequence."""

    # Timestamps stay strings: copy the resolver table without the timestamp tag.
    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        # id(container) -> {key or index: (key loc or None, value loc)}; `_keep` pins the ids.
        self.container_marks: dict[int, dict[Hashable, tuple[Loc | None, Loc]]] = {}
        self.duplicates: list[tuple[int, str, Loc]] = []  # (id(mapping), key, loc)
        self._keep: list[Any] = []
        self._nodes = 0  # nodes composed so far, aliases counted as the nodes they repeat
        self._alias_nodes = 0
        self._depth = 0
        self._sizes: dict[str, int] = {}  # anchor -> size of its node, once composed

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        event = self.peek_event()
        if isinstance(event, AliasEvent):
            anchor = event.anchor
            if anchor is not None and anchor in self.anchors:
                size = self._sizes.get(anchor)
                if size is None:  # its node is still being composed: the alias is inside it
                    raise _Refused(
                        "recursive-alias",
                        f"alias *{anchor} refers to a node that contains it (a structure without end)",
                        event.start_mark,
                    )
                self._nodes += size
                self._alias_nodes += size
                if self._alias_nodes > MAX_ALIAS_NODES:
                    raise _Refused(
                        "too-many-aliases",
                        f"too many aliases: they expand the document by more than {MAX_ALIAS_NODES:,} "
                        "nodes (a YAML bomb?)",
                        event.start_mark,
                    )
            return super().compose_node(parent, index)
        self._depth += 1
        if self._depth > MAX_DEPTH and isinstance(event, CollectionStartEvent | ScalarEvent):
            raise _Refused("too-deep", f"nesting deeper than {MAX_DEPTH} levels", event.start_mark)
        before = self._nodes
        self._nodes += 1
        anchor = getattr(event, "anchor", None)
        node = super().compose_node(parent, index)
        self._depth -= 1
        if anchor is not None:
            self._sizes[anchor] = self._nodes - before
        return node

    def construct_yaml_int(self, node: ScalarNode) -> int:
        if len(node.value) > _MAX_INT_CHARS:
            raise _Refused(
                "number-too-long",
                f"a number with {len(node.value)} characters is outside every range a setting has",
                node.start_mark,
            )
        return int(super().construct_yaml_int(node))

    def construct_marked_map(self, node: MappingNode) -> Any:
        data: dict[Any, Any] = {}
        yield data
        # Keys merged in with `<<: *anchor` may be overridden; only keys written twice are duplicates.
        direct = {id(k) for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge"}
        self.flatten_mapping(node)
        entries: dict[Hashable, tuple[Loc | None, Loc]] = {}
        written: set[Hashable] = set()
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=False)
            if not isinstance(key, Hashable):
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    "found unhashable key",
                    key_node.start_mark,
                )
            if id(key_node) in direct:
                if key in written:
                    self.duplicates.append((id(data), str(key), _loc(key_node.start_mark)))
                written.add(key)
            entries[key] = (_loc(key_node.start_mark), _loc(value_node.start_mark))
            data[key] = self.construct_object(value_node, deep=False)
        self.container_marks[id(data)] = entries
        self._keep.append(data)

    def construct_marked_seq(self, node: SequenceNode) -> Any:
        data: list[Any] = []
        yield data
        data.extend(self.construct_object(child, deep=False) for child in node.value)
        self.container_marks[id(data)] = {
            i: (None, _loc(child.start_mark)) for i, child in enumerate(node.value)
        }
        self._keep.append(data)


_MarkingLoader.add_constructor("tag:yaml.org,2002:map", _MarkingLoader.construct_marked_map)
_MarkingLoader.add_constructor("tag:yaml.org,2002:seq", _MarkingLoader.construct_marked_seq)
_MarkingLoader.add_constructor("tag:yaml.org,2002:int", _MarkingLoader.construct_yaml_int)


def _attach(
    loader: _MarkingLoader,
    data: Any,
    path: Path,
    positions: Positions,
    ids: dict[int, Path],
    on_stack: set[int],
) -> None:
    if not isinstance(data, dict | list) or id(data) in on_stack:
        return  # scalars, or a recursive alias
    ids.setdefault(id(data), path)
    on_stack.add(id(data))
    entries = loader.container_marks.get(id(data), {})
    items = data.items() if isinstance(data, dict) else enumerate(data)
    for k, v in items:
        child: Path = (*path, k if isinstance(k, int | str) else str(k))
        if k in entries:
            key_loc, value_loc = entries[k]
            if key_loc is not None:
                positions.keys.setdefault(child, key_loc)
            positions.values.setdefault(child, value_loc)
        _attach(loader, v, child, positions, ids, on_stack)
    on_stack.discard(id(data))


def _reader_problem(text: str, exc: yaml.reader.ReaderError) -> YamlSyntaxProblem:
    line = text.count("\n", 0, exc.position) + 1
    column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
    what = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
    return YamlSyntaxProblem(f"the character {what} is not allowed in YAML text", line, column, "not-text")


def parse_yaml(text: str) -> tuple[Any, Positions, list[YamlDuplicateKey], YamlSyntaxProblem | None]:
    """Parse one YAML document: (data, positions, duplicate keys, syntax problem or None)."""
    positions = Positions()
    try:
        loader = _MarkingLoader(text)
    except yaml.reader.ReaderError as exc:  # the text holds a character YAML forbids (NUL, controls)
        return None, positions, [], _reader_problem(text, exc)
    try:
        node: Node | None = loader.get_single_node()
        if node is None:
            return None, positions, [], None
        data = loader.construct_document(node)
    except _Refused as exc:
        line, column = _loc(exc.problem_mark)
        return None, positions, [], YamlSyntaxProblem(str(exc.problem), line, column, exc.code)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, column = _loc(mark) if mark is not None else (None, None)
        message = exc.problem or exc.context or "invalid YAML"
        if exc.context and exc.problem:
            message = f"{exc.problem} ({exc.context}"
            if exc.context_mark is not None and exc.context_mark.line != getattr(mark, "line", None):
                message += f" that starts at line {exc.context_mark.line + 1}"
            message += ")"
        return None, positions, [], YamlSyntaxProblem(f"YAML syntax error: {message}", line, column)
    except yaml.YAMLError as exc:
        return None, positions, [], YamlSyntaxProblem(f"YAML error: {exc}", None, None)
    except RecursionError:  # a safety net: MAX_DEPTH stops nesting long before this
        return None, positions, [], YamlSyntaxProblem("nesting too deep", None, None, "too-deep")
    finally:
        loader.dispose()
    positions.values[()] = _loc(node.start_mark)
    ids: dict[int, Path] = {}
    _attach(loader, data, (), positions, ids, set())
    duplicates = [
        YamlDuplicateKey(key, ids.get(mapping_id, ()), loc[0] or 0, loc[1] or 0)
        for mapping_id, key, loc in loader.duplicates
        if mapping_id in ids
    ]
    return data, positions, duplicates, None
