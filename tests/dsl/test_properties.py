"""Property-based tests: graphs are accepted exactly when acyclic; bad input only ever raises our error."""

from __future__ import annotations

import graphlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gleitzeit.core.errors import ValidationError
from gleitzeit.dsl import load_workflow, resolve, validate_workflow
from gleitzeit.dsl.graph import find_cycles, topological_order

FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def graphs(draw: st.DrawFn) -> tuple[int, dict[int, list[int]], list[bool]]:
    n = draw(st.integers(min_value=1, max_value=9))
    edges = {i: draw(st.lists(st.integers(0, n - 1), max_size=4)) for i in range(n)}
    # how each dependency is expressed: an explicit `dependencies:` entry or a reference
    by_reference = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    return n, edges, by_reference


def _is_acyclic(n: int, edges: dict[int, list[int]]) -> bool:
    try:
        tuple(graphlib.TopologicalSorter({i: set(edges[i]) for i in range(n)}).static_order())
        return True
    except graphlib.CycleError:
        return False


def _workflow(n: int, edges: dict[int, list[int]], by_reference: list[bool]) -> dict[str, Any]:
    tasks = []
    for i in range(n):
        task: dict[str, Any] = {"id": f"t{i}", "method": "python/execute", "parameters": {"code": "print(1)"}}
        if by_reference[i]:
            task["parameters"]["context"] = {f"d{k}": f"${{t{d}.result}}" for k, d in enumerate(edges[i])}
        else:
            task["dependencies"] = [f"t{d}" for d in edges[i]]
        tasks.append(task)
    return {"name": "graph", "tasks": tasks}


@FAST
@given(graphs())
def test_random_graphs_are_accepted_exactly_when_acyclic(
    graph: tuple[int, dict[int, list[int]], list[bool]],
) -> None:
    n, edges, by_reference = graph
    problems = validate_workflow(_workflow(n, edges, by_reference))
    assert all(p.code == "cycle" for p in problems)
    assert (not problems) == _is_acyclic(n, edges)
    if problems:
        for p in problems:
            assert "->" in p.message or "depends on itself" in p.message
    else:
        spec = load_workflow(_workflow(n, edges, by_reference))
        for i, task in enumerate(spec.tasks):
            assert task.dependencies == list(dict.fromkeys(f"t{d}" for d in edges[i]))


@FAST
@given(graphs())
def test_cycle_paths_are_real_cycles(graph: tuple[int, dict[int, list[int]], list[bool]]) -> None:
    n, edges, _ = graph
    nodes = [str(i) for i in range(n)]
    adj = {str(i): [str(d) for d in edges[i]] for i in range(n)}
    cycles = find_cycles(nodes, adj)
    assert bool(cycles) != _is_acyclic(n, edges)
    for cycle in cycles:
        assert cycle[0] == cycle[-1]
        for a, b in zip(cycle, cycle[1:], strict=False):
            assert b in adj[a]
    if not cycles:
        order = topological_order(nodes, adj)
        assert sorted(order) == sorted(nodes)
        pos = {x: i for i, x in enumerate(order)}
        assert all(pos[d] < pos[x] for x in nodes for d in adj[x])


# --- resolve() on random values and paths raises only our ValidationError ---

_keys = st.sampled_from(["a", "b", "result", "response", "items", "x y", "0"])
_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 5), st.floats(allow_nan=True), st.text(max_size=5)
)
_values = st.recursive(
    _scalars,
    lambda kids: st.one_of(st.lists(kids, max_size=3), st.dictionaries(_keys, kids, max_size=3)),
    max_leaves=8,
)
_segments = st.lists(
    st.one_of(
        _keys.map(lambda k: f".{k}"),
        st.integers(-3, 3).map(lambda i: f"[{i}]"),
        st.sampled_from(["['a.b']", ".", "[", "]", "[x]", "}", "$", "${", "$${"]),
    ),
    max_size=4,
)
_refs = st.builds(
    lambda root, segs: "${" + root + "".join(segs) + "}",
    st.sampled_from(["t1", "t2", "missing", "inputs", "", " t1 "]),
    _segments,
)
_strings = st.lists(st.one_of(_refs, st.text(alphabet="ab ${}.[]", max_size=6)), max_size=4).map("".join)
_templates = st.recursive(
    st.one_of(_strings, _scalars),
    lambda kids: st.one_of(
        st.lists(kids, max_size=3), st.dictionaries(st.text(max_size=3), kids, max_size=3)
    ),
    max_leaves=6,
)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    template=_templates,
    results=st.dictionaries(st.sampled_from(["t1", "t2"]), _values, max_size=2),
    inputs=st.dictionaries(_keys, _values, max_size=3),
    primary=st.dictionaries(st.sampled_from(["t1", "t2"]), st.sampled_from(["response", "result"])),
)
def test_resolve_raises_only_validation_error(
    template: Any, results: dict[str, Any], inputs: dict[str, Any], primary: dict[str, str]
) -> None:
    try:
        resolve(template, results, inputs, primary_fields=primary)
    except ValidationError as exc:
        assert exc.problems


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.recursive(
        st.one_of(_scalars, _strings),
        lambda kids: st.one_of(
            st.lists(kids, max_size=3),
            st.dictionaries(
                st.sampled_from(
                    [
                        "name",
                        "tasks",
                        "id",
                        "method",
                        "parameters",
                        "params",
                        "inputs",
                        "outputs",
                        "when",
                        "dependencies",
                        "priority",
                        "retry",
                        "type",
                        "batch",
                        "template",
                        "model",
                        "prompt",
                        "code",
                        "messages",
                    ]
                ),
                kids,
                max_size=5,
            ),
        ),
        max_leaves=15,
    )
)
def test_loader_never_crashes_on_random_documents(doc: Any) -> None:
    problems = validate_workflow(doc if isinstance(doc, dict) else {"tasks": doc})
    assert all(p.message for p in problems)


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(alphabet="ab:-{}[]$ \n\t'\"&*!|>#%@`,?.", max_size=60))
def test_loader_never_crashes_on_random_text(text: str) -> None:
    problems = validate_workflow("name: x\n" + text)
    assert all(p.message for p in problems)
