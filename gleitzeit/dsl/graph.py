"""The task graph: dependency cycles (each reported as a path) and a deterministic order.

Iterative Tarjan over the tasks in file order, so results never depend on set iteration or the
recursion limit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence

__all__ = ["find_cycles", "topological_order"]


def _components(nodes: Sequence[str], edges: Mapping[str, Sequence[str]]) -> list[list[str]]:
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    out: list[list[str]] = []
    counter = 0
    for root in nodes:
        if root in index:
            continue
        work: list[tuple[str, int]] = [(root, 0)]
        while work:
            node, i = work.pop()
            if i == 0:
                index[node] = low[node] = counter
                counter += 1
                stack.append(node)
                on_stack.add(node)
            succ = [s for s in edges.get(node, ()) if s in edges]
            if i < len(succ):
                work.append((node, i + 1))
                nxt = succ[i]
                if nxt not in index:
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], index[nxt])
                continue
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on_stack.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                out.append(comp)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return out


def find_cycles(nodes: Sequence[str], edges: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """One cycle per strongly connected component that has one, as a path ``[a, b, ..., a]``.

    ``edges[n]`` lists what ``n`` points at (here: its dependencies). Each path starts at the
    component's first node in ``nodes`` order and is a shortest way back to it.
    """
    order = {n: i for i, n in enumerate(nodes)}
    cycles: list[list[str]] = []
    for comp in _components(nodes, edges):
        members = set(comp)
        start = min(comp, key=order.__getitem__)
        if len(comp) == 1 and start not in edges.get(start, ()):
            continue
        # Breadth-first from start, back to start, inside the component.
        parent: dict[str, str] = {}
        queue = deque([start])
        seen = {start}
        found = None
        while queue and found is None:
            node = queue.popleft()
            for nxt in edges.get(node, ()):
                if nxt == start:
                    found = node
                    break
                if nxt in members and nxt not in seen:
                    seen.add(nxt)
                    parent[nxt] = node
                    queue.append(nxt)
        path = [start]
        node = found if found is not None else start
        back = []
        while node != start:
            back.append(node)
            node = parent[node]
        path.extend(reversed(back))
        path.append(start)
        cycles.append(path)
    return sorted(cycles, key=lambda c: order[c[0]])


def topological_order(nodes: Sequence[str], edges: Mapping[str, Sequence[str]]) -> list[str]:
    """Nodes with every dependency before its dependents, ties in ``nodes`` order (graph must be acyclic)."""
    remaining = {n: len([d for d in edges.get(n, ()) if d in edges]) for n in nodes}
    dependents: dict[str, list[str]] = {n: [] for n in nodes}
    for n in nodes:
        for d in edges.get(n, ()):
            if d in dependents:
                dependents[d].append(n)
    order = {n: i for i, n in enumerate(nodes)}
    ready = sorted((n for n, k in remaining.items() if k == 0), key=order.__getitem__)
    out: list[str] = []
    while ready:
        n = ready.pop(0)
        out.append(n)
        for m in dependents[n]:
            remaining[m] -= 1
            if remaining[m] == 0:
                ready.append(m)
                ready.sort(key=order.__getitem__)
    return out
