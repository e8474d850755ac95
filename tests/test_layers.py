"""The package's import graph: no circles, and no arrow from a lower layer to a higher one.

docs/architecture.md draws the layers; this test is what keeps them true. Every ``import`` counts, also
the lazy ones inside functions (a lazy import upward is still an arrow up); only imports under
``if TYPE_CHECKING:`` are left out, since they never run.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import gleitzeit

PACKAGE = Path(gleitzeit.__file__).parent

# Bottom to top. A module may import from its own layer or any layer below.
LAYERS: list[set[str]] = [
    {"core", "contracts", "config"},
    {"dsl", "executors", "llm_server", "mcp_tools"},
    {"activities"},
    {"workflows"},
    {"batch"},
    {"worker"},
    {"services"},
    {"client"},
    {"api", "testing"},
    {"cli", "__init__", "__main__"},
]
LONG_MODULE_LINES = 400
# The sentence a long module's docstring carries: "Why one module: ..." or "Over ~400 lines because ...".
_SAYS_WHY = re.compile(r"why one module|400 lines because", re.IGNORECASE)


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imports(module: str, path: Path, known: set[str]) -> set[str]:
    """The gleitzeit modules ``module`` imports (a name imported from a package counts as its module)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == "gleitzeit")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] == "gleitzeit":
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    found.add(sub if sub in known else target)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    found.discard(module)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {m: _imports(m, p, known) for m, p in modules.items()}


def _layer(module: str) -> int:
    parts = module.split(".")
    top = parts[1] if len(parts) > 1 else "__init__"
    for i, names in enumerate(LAYERS):
        if top in names:
            return i
    raise AssertionError(f"{module}: its package '{top}' has no layer in LAYERS (add it, bottom to top)")


def test_no_import_goes_up_a_layer() -> None:
    upward = [
        f"{m} (layer {_layer(m)}) imports {t} (layer {_layer(t)})"
        for m, targets in _graph().items()
        for t in sorted(targets)
        if _layer(t) > _layer(m)
    ]
    assert not upward, "imports that go up a layer:\n" + "\n".join(upward)


def test_no_import_circles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    cycles: list[list[str]] = []
    counter = [0]

    def connect(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in graph:
                continue
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            connect(v)
    assert not cycles, "import circles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_long_modules_say_why_at_the_top() -> None:
    unexplained = []
    for module, path in _modules().items():
        lines = path.read_text().count("\n")
        if lines <= LONG_MODULE_LINES:
            continue
        doc = ast.get_docstring(ast.parse(path.read_text())) or ""
        if not _SAYS_WHY.search(doc):
            unexplained.append(f"{module}: {lines} lines")
    assert not unexplained, (
        f"modules over {LONG_MODULE_LINES} lines need a 'Why one module: ...' sentence in their docstring, "
        "or a split by role:\n" + "\n".join(unexplained)
    )
