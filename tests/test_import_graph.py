"""No import cycle inside ``services/`` or ``devtools/``, and no ``_private`` name taken from another module.

The check reads the source with ``ast`` and imports nothing, so it runs without the services' dependencies
and sees function-local imports that an import-time trace would miss.

What is an edge ``A -> B`` ("running A can need B's module body to have run"):

- ``import b.c`` and ``from b.c import name`` in A: ``A -> b.c``. ``from b import c`` where ``b/c.py`` (or
  ``b/c/__init__.py``) exists: ``A -> b.c``; where ``c`` is a name defined in ``b``: ``A -> b``.
  ``from b import *``: ``A -> b``. Relative imports are resolved against A's package first.
- Importing ``b.c`` also runs the ``__init__`` of every package on the way (``b``), so ``A -> b`` as well
  (an *implicit* edge) -- except where that package is A itself or one of A's own packages: Python imports
  a module's packages before the module, so by the time A's body runs they are in ``sys.modules`` and the
  statement neither runs their ``__init__`` again nor reads anything from them. ``pkg/sub.py`` saying
  ``from pkg.other import x`` therefore depends on ``pkg.other`` only, and ``pkg/__init__.py`` saying
  ``from .sub import x`` is the edge ``pkg -> pkg.sub``. Reading a *name* from one's own package
  (``from pkg import CONSTANT``, ``from . import CONSTANT`` in ``pkg/sub.py``) is an explicit edge
  ``pkg.sub -> pkg`` and is kept: it fails when ``pkg/__init__`` is still importing ``pkg.sub``.
- Function-local imports are edges too: they are dependencies all the same, and a cycle that only a local
  import keeps from failing at import time is still a cycle. The message says which edges are local.
- Imports under ``if TYPE_CHECKING:`` (or ``typing.TYPE_CHECKING``) are not run, so they are not edges;
  the ``else:`` branch of such an ``if`` is.
- Not seen: ``importlib.import_module(...)`` and ``__import__`` (names computed at run time, e.g.
  ``cartridge.replay.setup.SCHEMA_MODULES``). Imports of modules outside the project are ignored.

A cycle is a strongly connected component of more than one module, or a module importing itself.

The private-name rule: ``from m import _name`` and ``m._name`` (``m`` bound by an import) where ``m`` is
another project module and ``_name`` is not a dunder; a ``_private`` *module* (``pkg/_impl.py``) may be
imported from inside ``pkg`` only. The names an import binds are tracked per file, not per scope, and
private attributes of objects (``obj._field``) are not this rule's business. It holds for services/ and
devtools/ and for testkit/, e2e/ and bench/; tests/ may reach into private names.
"""

from __future__ import annotations

import ast
import itertools
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Top-level package -> its directory; the same layout as pyproject.toml's [tool.setuptools.packages.find].
PACKAGES: dict[str, Path] = {
    "cartridge": REPO / "services" / "cartridge",
    "cartridge_actor": REPO / "services" / "actor" / "cartridge_actor",
    "cartridge_trainer": REPO / "services" / "trainer" / "cartridge_trainer",
    "cartridge_web": REPO / "services" / "web" / "cartridge_web",
    "cartridge_arena": REPO / "services" / "arena" / "cartridge_arena",
    "devtools": REPO / "devtools",
    "testkit": REPO / "testkit",
    "e2e": REPO / "e2e",
    "bench": REPO / "bench",
}
NO_CYCLES = ("cartridge", "cartridge_actor", "cartridge_trainer", "cartridge_web", "cartridge_arena", "devtools")
NO_PRIVATE_IMPORTS = (*NO_CYCLES, "testkit", "e2e", "bench")


@dataclass(frozen=True)
class Edge:
    importer: str
    target: str
    path: Path
    line: int
    local: bool  # inside a function body: runs when called, not when the module is imported
    implicit: bool  # only the __init__ of a package on the way to the imported module

    def describe(self, root: Path) -> str:
        kind = [word for word, flag in (("function-local", self.local), ("package __init__", self.implicit)) if flag]
        where = f"{_relative(self.path, root)}:{self.line}"
        return f"{self.importer} -> {self.target}  ({where}{', ' + ', '.join(kind) if kind else ''})"


@dataclass(frozen=True)
class PrivateUse:
    importer: str
    owner: str  # the module (or package, for a private submodule) the name belongs to
    name: str
    path: Path
    line: int

    def describe(self, root: Path) -> str:
        return f"{_relative(self.path, root)}:{self.line}: {self.importer} uses {self.owner}.{self.name}"


@dataclass
class Graph:
    modules: dict[str, Path]  # every project module -> its file
    edges: list[Edge] = field(default_factory=list)
    private: list[PrivateUse] = field(default_factory=list)
    unresolved: list[str] = field(default_factory=list)  # project imports naming no module of the project


def _relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)


def _is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def find_modules(packages: Mapping[str, Path]) -> dict[str, Path]:
    """Dotted module name -> file, for every .py under each top-level package's directory."""
    modules = {}
    for top, directory in packages.items():
        for path in sorted(directory.rglob("*.py")):
            parts = [top, *path.relative_to(directory).with_suffix("").parts]
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` -> ["a", "b", "c"]; None for anything but a chain of names."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return parts[::-1]


class _ModuleScan(ast.NodeVisitor):
    def __init__(self, name: str, path: Path, graph: Graph, tops: frozenset[str]):
        self.name, self.path, self.graph, self.tops = name, path, graph, tops
        self.is_package = path.name == "__init__.py"
        self.depth = 0  # function nesting
        self.bound: dict[str, str] = {}  # a name bound by an import -> the project module it is

    # -- where an import runs

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_Lambda = visit_FunctionDef

    def visit_If(self, node: ast.If) -> None:
        if _is_type_checking(node.test):
            for statement in node.orelse:  # the body is for the type checker only
                self.visit(statement)
        else:
            self.generic_visit(node)

    # -- imports

    def _module(self, dotted: str, line: int) -> str | None:
        """``dotted`` if it is a project module; None outside the project (and noted when it names none)."""
        if dotted.split(".")[0] not in self.tops:
            return None
        if dotted not in self.graph.modules:
            self.graph.unresolved.append(f"{self.path}:{line}: {self.name} imports {dotted}, which is no module")
            return None
        return dotted

    def _edge(self, target: str, line: int, implicit: bool = False) -> None:
        self.graph.edges.append(Edge(self.name, target, self.path, line, self.depth > 0, implicit))

    def _packages_on_the_way(self, target: str, line: int) -> None:
        """The implicit edges to the packages whose __init__ importing ``target`` runs, less our own."""
        parts = target.split(".")
        for n in range(1, len(parts)):
            package = ".".join(parts[:n])
            if not _within(self.name, package):  # our own packages are in sys.modules already
                self._edge(package, line, implicit=True)

    def _check_private_path(self, dotted: str, line: int) -> None:
        """A ``_private`` module on the path is for its own package's modules only."""
        parts = dotted.split(".")
        for n, part in enumerate(parts[1:], start=1):
            package = ".".join(parts[:n])
            if _is_private(part) and not _within(self.name, package):
                self.graph.private.append(PrivateUse(self.name, package, part, self.path, line))
                return

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            target = self._module(alias.name, node.lineno)
            if target is None:
                continue
            self._check_private_path(target, node.lineno)
            self._edge(target, node.lineno)
            self._packages_on_the_way(target, node.lineno)
            if alias.asname:
                self.bound[alias.asname] = target
            else:
                self.bound[target.split(".")[0]] = target.split(".")[0]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            package = self.name if self.is_package else self.name.rpartition(".")[0]
            parts = package.split(".")
            if node.level - 1 >= len(parts):
                self.graph.unresolved.append(f"{self.path}:{node.lineno}: relative import beyond {parts[0]}")
                return
            base = ".".join(parts[: len(parts) - (node.level - 1)])
            dotted = f"{base}.{node.module}" if node.module else base
        else:
            dotted = node.module or ""
        target = self._module(dotted, node.lineno)
        if target is None:
            return
        self._check_private_path(target, node.lineno)
        self._packages_on_the_way(target, node.lineno)
        for alias in node.names:
            submodule = f"{target}.{alias.name}"
            if submodule in self.graph.modules:  # from pkg import sub: runs pkg/__init__, then sub
                if not _within(self.name, target):
                    self._edge(target, node.lineno, implicit=True)
                self._check_private_path(submodule, node.lineno)
                self._edge(submodule, node.lineno)
                self.bound[alias.asname or alias.name] = submodule
            else:  # a name (or *) read from target's namespace
                self._edge(target, node.lineno)
                if _is_private(alias.name) and target != self.name:
                    self.graph.private.append(PrivateUse(self.name, target, alias.name, self.path, node.lineno))

    # -- m._name, m bound by an import

    def check_attributes(self, tree: ast.AST) -> None:
        for chain in _outermost_chains(tree):
            parts = _dotted(chain)
            if parts is None or parts[0] not in self.bound:
                continue
            module = self.bound[parts[0]]
            for part in parts[1:]:
                if f"{module}.{part}" in self.graph.modules:
                    module = f"{module}.{part}"
                    self._check_private_path(module, chain.lineno)
                    continue
                if _is_private(part) and module != self.name:
                    self.graph.private.append(PrivateUse(self.name, module, part, self.path, chain.lineno))
                break


def _outermost_chains(tree: ast.AST) -> list[ast.Attribute]:
    """Each attribute chain ``a.b.c`` once, as its outermost node."""
    chains = [node for node in ast.walk(tree) if isinstance(node, ast.Attribute)]
    inner = {id(node.value) for node in chains if isinstance(node.value, ast.Attribute)}
    return [node for node in chains if id(node) not in inner]


def scan(packages: Mapping[str, Path], include: Iterable[str] | None = None) -> Graph:
    """The imports of the modules of the top-level packages ``include`` (default: all of ``packages``)."""
    modules = find_modules(packages)
    graph = Graph(modules)
    include = set(packages if include is None else include)
    for name, path in modules.items():
        if name.split(".")[0] in include:
            tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
            visitor = _ModuleScan(name, path, graph, frozenset(packages))
            visitor.visit(tree)
            visitor.check_attributes(tree)
    return graph


def strongly_connected(nodes: Iterable[str], successors: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Tarjan's strongly connected components, each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in successors.get(node, ()):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            components.append(sorted(component))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return components


def _shortest_cycle(start: str, members: set[str], successors: Mapping[str, Iterable[str]]) -> list[str]:
    """``start -> ... -> start`` inside one component, fewest edges first."""
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(successors.get(node, ())):
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(came_from[path[-1]])
                    return [*path[::-1], start]
                if successor in members and successor not in came_from:
                    came_from[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError(f"{start} is on no cycle")  # pragma: no cover - a component's member always is


def find_cycles(graph: Graph, within: Iterable[str] | None = None) -> list[str]:
    """One readable paragraph per cycle among the modules of the top-level packages ``within``."""
    tops = set(within) if within is not None else {name.split(".")[0] for name in graph.modules}
    sites: dict[tuple[str, str], list[Edge]] = {}
    for edge in graph.edges:
        if edge.importer.split(".")[0] in tops and edge.target.split(".")[0] in tops:
            sites.setdefault((edge.importer, edge.target), []).append(edge)
    successors: dict[str, set[str]] = {}
    for importer, target in sites:
        successors.setdefault(importer, set()).add(target)
    found = []
    for component in strongly_connected(successors, successors):
        start = component[0]
        if len(component) == 1 and start not in successors.get(start, ()):
            continue
        cycle = _shortest_cycle(start, set(component), successors)
        lines = [" -> ".join(cycle)]
        for importer, target in itertools.pairwise(cycle):
            # the statement most likely to fail at import time: module level and explicit first
            edges = sorted(sites[importer, target], key=lambda edge: (edge.local, edge.implicit, edge.line))
            lines.append("    " + edges[0].describe(REPO))
        if len(component) > len(set(cycle)):
            lines.append(f"    (the same component holds {', '.join(component)})")
        found.append("\n".join(lines))
    return sorted(found)


# -- the project


@pytest.fixture(scope="module")
def project() -> Graph:
    return scan(PACKAGES)


def test_every_python_file_of_services_and_devtools_is_scanned(project: Graph) -> None:
    """A new package under services/ has to be added to PACKAGES (and pyproject.toml), not slip past."""
    sources = [path for top in ("services", "devtools") for path in (REPO / top).rglob("*.py")]
    scanned = set(project.modules.values())
    missed = [
        str(path.relative_to(REPO)) for path in sources if path not in scanned and "node_modules" not in path.parts
    ]
    assert sources and not missed, f"not in any package of PACKAGES: {missed}"


def test_project_imports_resolve(project: Graph) -> None:
    """Every import naming a project package names one of its modules (else the graph below misses edges)."""
    assert not project.unresolved, "\n".join(project.unresolved)


def test_no_import_cycle_in_services_or_devtools(project: Graph) -> None:
    cycles = find_cycles(project, within=NO_CYCLES)
    assert not cycles, "import cycles (each with the statement behind every edge):\n" + "\n".join(cycles)


def test_no_private_name_from_another_module(project: Graph) -> None:
    uses = [use for use in project.private if use.importer.split(".")[0] in NO_PRIVATE_IMPORTS]
    assert not uses, (
        "_private names used outside the module that defines them (make the name public where it is shared, "
        "or move it to the module that uses it):\n" + "\n".join(use.describe(REPO) for use in uses)
    )


# -- the helper itself, on small trees


def make_tree(root: Path, files: Mapping[str, str]) -> dict[str, Path]:
    """Write ``files`` (path -> source) under ``root``; the top-level packages, as PACKAGES maps them."""
    for relative, source in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(source), encoding="utf-8")
    return {path.name: path for path in sorted(root.iterdir()) if (path / "__init__.py").exists()}


def cycles_of(root: Path, files: Mapping[str, str]) -> list[str]:
    graph = scan(make_tree(root, files))
    assert not graph.unresolved, graph.unresolved
    return find_cycles(graph)


def private_of(root: Path, files: Mapping[str, str]) -> list[str]:
    return [f"{use.importer}: {use.owner}.{use.name}" for use in scan(make_tree(root, files)).private]


def test_a_cycle_is_named_with_the_statements_behind_it(tmp_path: Path) -> None:
    files = {"a/__init__.py": "", "a/x.py": "from a.y import Y\nX = 1\n", "a/y.py": "import math\nfrom a import x\n"}
    [cycle] = cycles_of(tmp_path, files)
    assert cycle.splitlines()[0] == "a.x -> a.y -> a.x"
    assert f"a.x -> a.y  ({tmp_path / 'a/x.py'}:1)" in cycle
    assert f"a.y -> a.x  ({tmp_path / 'a/y.py'}:2)" in cycle


def test_a_longer_cycle_and_a_self_import(tmp_path: Path) -> None:
    files = {
        "a/__init__.py": "",
        "a/x.py": "from a import y\n",
        "a/y.py": "from a import z\n",
        "a/z.py": "import a.x\n",
        "a/me.py": "import a.me\n",
        "a/fine.py": "from a import x, y, z\n",
    }
    cycles = cycles_of(tmp_path, files)
    assert [cycle.splitlines()[0] for cycle in cycles] == ["a.me -> a.me", "a.x -> a.y -> a.z -> a.x"]


def test_imports_for_the_type_checker_are_no_edges(tmp_path: Path) -> None:
    files = {
        "a/__init__.py": "",
        "a/x.py": "from a.y import Y\n",
        "a/y.py": """\
            import typing
            from typing import TYPE_CHECKING

            if TYPE_CHECKING:
                from a.x import X
            if typing.TYPE_CHECKING:
                import a.x
            Y = 1
            """,
    }
    assert cycles_of(tmp_path, files) == []
    files["a/y.py"] = textwrap.dedent(files["a/y.py"]) + "if TYPE_CHECKING:\n    pass\nelse:\n    from a import x\n"
    [cycle] = cycles_of(tmp_path, files)
    assert cycle.startswith("a.x -> a.y -> a.x")


def test_function_local_imports_are_edges_and_said_to_be(tmp_path: Path) -> None:
    files = {
        "a/__init__.py": "",
        "a/x.py": "from a.y import Y\n",
        "a/y.py": "class Y:\n    def make(self):\n        from a.x import X\n\n        return X\n",
    }
    [cycle] = cycles_of(tmp_path, files)
    assert f"a.y -> a.x  ({tmp_path / 'a/y.py'}:3, function-local)" in cycle


def test_relative_imports_resolve_against_the_package(tmp_path: Path) -> None:
    files = {
        "a/__init__.py": "from . import sub\n",  # a submodule by name
        "a/sub/__init__.py": "from .leaf import LEAF\n",
        "a/sub/leaf.py": "from ..other import OTHER\nfrom .. import top\n",
        "a/other.py": "OTHER = 1\n",
        "a/top.py": "from .sub.leaf import LEAF\n",
    }
    graph = scan(make_tree(tmp_path, files))
    edges = {(edge.importer, edge.target) for edge in graph.edges if not edge.implicit}
    assert edges == {
        ("a", "a.sub"),
        ("a.sub", "a.sub.leaf"),
        ("a.sub.leaf", "a.other"),
        ("a.sub.leaf", "a.top"),
        ("a.top", "a.sub.leaf"),
    }
    [cycle] = find_cycles(graph)
    # a.top importing a.sub.leaf runs a.sub's __init__ first, which imports a.sub.leaf
    assert cycle.splitlines()[0] == "a.sub -> a.sub.leaf -> a.top -> a.sub"
    assert f"a.top -> a.sub  ({tmp_path / 'a/top.py'}:1, package __init__)" in cycle


def test_a_package_init_importing_its_submodules_is_no_cycle(tmp_path: Path) -> None:
    """``a.x`` importing ``a.y`` does not run ``a/__init__`` again: it is running (or ran) before ``a.x``."""
    files = {
        "a/__init__.py": "from .x import X\nfrom .y import Y\n",
        "a/x.py": "import a.y\nX = 1\n",
        "a/y.py": "Y = 1\n",
    }
    assert cycles_of(tmp_path, files) == []
    # but reading a name from the package that is importing us is one
    files["a/y.py"] = "from a import X\nY = X\n"
    [cycle] = cycles_of(tmp_path, files)
    assert cycle.splitlines()[0] == "a -> a.y -> a"


def test_importing_a_submodule_from_outside_runs_the_package_init(tmp_path: Path) -> None:
    files = {
        "a/__init__.py": "from .x import X\n",
        "a/x.py": "from b.uses import USES\nX = 1\n",
        "a/plain.py": "P = 1\n",
        "b/__init__.py": "",
        "b/uses.py": "from a.plain import P\nUSES = P\n",  # a.plain alone, but a/__init__ runs first
    }
    [cycle] = cycles_of(tmp_path, files)
    assert cycle.splitlines()[0] == "a -> a.x -> b.uses -> a"
    assert f"b.uses -> a  ({tmp_path / 'b/uses.py'}:1, package __init__)" in cycle


def test_private_names_from_other_modules(tmp_path: Path) -> None:
    files = {
        "a/__init__.py": "_SECRET = 1\n__version__ = '1'\n",
        "a/x.py": "from a import __version__, _SECRET\n_OWN = 1\n",
        "a/y.py": "import a.x\nimport a.x as ax\n\nprint(a.x._OWN, ax._OWN, a.x.__name__)\n",
        "a/z.py": "from .x import _OWN\n",
        "a/_impl.py": "",
        "a/ok.py": "from a import _impl\nfrom . import _impl as again\nimport a._impl\n",
        "a/own.py": "_MINE = 1\n\n\ndef f():\n    import a.own\n\n    return a.own._MINE\n",
        "b/__init__.py": "from a import _impl\nimport a._impl\n",
    }
    assert sorted(private_of(tmp_path, files)) == [
        "a.x: a._SECRET",
        "a.y: a.x._OWN",
        "a.y: a.x._OWN",
        "a.z: a.x._OWN",
        "b: a._impl",
        "b: a._impl",
    ]


def test_an_import_naming_no_module_of_the_project_is_reported(tmp_path: Path) -> None:
    graph = scan(make_tree(tmp_path, {"a/__init__.py": "", "a/x.py": "import os\nimport a.gone\nfrom ... import y\n"}))
    assert [line.split(": ", 1)[1] for line in graph.unresolved] == [
        "a.x imports a.gone, which is no module",
        "relative import beyond a",
    ]
