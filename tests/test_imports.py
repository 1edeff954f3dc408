"""No import cycle in the product: its modules, read by their imports, form a graph without loops.

The graph is built from the source (``ast``), not by importing anything: every module of the
product packages (migrations and tests aside), every ``import`` and ``from … import`` in it,
at the top, inside functions, or under ``if TYPE_CHECKING:``. An edge goes to the module
imported: ``from verifications.services import batches`` to ``verifications.services.batches``,
``from verifications.services import verification_run`` to ``verifications.services`` (its
``__init__``). Importing a submodule also runs its parent packages' ``__init__``; those implicit
edges are left out: a package's ``__init__`` may gather its submodules without making a cycle.

A cycle is reported as the modules in order, each importing the next, with where it does.
"""

import ast
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest


ROOT = Path(__file__).resolve().parents[1]
NOT_PRODUCT = {"tests", "bench"}  # top-level packages that are not shipped code
SKIPPED_PARTS = {"migrations", "tests"}


def product_packages() -> list[str]:
    """Top-level packages of the repository that are product code (the sandbox included: a
    development tool, started by ``manage.py sandbox``, whose modules must not loop either)."""
    return sorted(
        path.parent.name
        for path in ROOT.glob("*/__init__.py")
        if path.parent.name not in NOT_PRODUCT and not path.parent.name.startswith(".")
    )


def module_files() -> dict[str, Path]:
    """Every module of the product, by dotted name."""
    modules: dict[str, Path] = {}
    for package in product_packages():
        for path in sorted((ROOT / package).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if SKIPPED_PARTS.intersection(relative.parts[:-1]):
                continue
            parts = list(relative.with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join(parts)] = path
    return modules


@dataclass(frozen=True)
class Import:
    target: str
    line: int


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    """The product modules that ``name`` imports, wherever in the file the import is."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                target = _innermost_module(alias.name, modules)
                if target:
                    yield Import(target, node.lineno)
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(name, is_package, node.module, node.level)
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                target = submodule if submodule in modules else _innermost_module(base, modules)
                if target:
                    yield Import(target, node.lineno)


def _absolute(importer: str, is_package: bool, module: str | None, level: int) -> str:
    if level == 0:
        return module or ""
    package = importer.split(".") if is_package else importer.split(".")[:-1]
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, module] if module else base)


def _innermost_module(dotted: str, modules: dict[str, Path]) -> str | None:
    """``dotted`` if it is a product module, else its innermost enclosing one, else None."""
    parts = dotted.split(".")
    while parts:
        candidate = ".".join(parts)
        if candidate in modules:
            return candidate
        parts.pop()
    return None


def import_graph() -> dict[str, dict[str, int]]:
    """Module → {imported module: line of the first such import}."""
    modules = module_files()
    graph: dict[str, dict[str, int]] = {name: {} for name in modules}
    for name, path in modules.items():
        for found in imports_of(name, path, modules):
            if found.target != name:
                graph[name].setdefault(found.target, found.line)
    return graph


def strongly_connected(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Tarjan's strongly connected components of more than one module (iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(graph[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        components.append(sorted(component))
    return components


def a_cycle(graph: dict[str, dict[str, int]], component: list[str]) -> list[str]:
    """One cycle through the component's first module: the shortest way back to it."""
    members = set(component)
    start = component[0]
    previous: dict[str, str] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(graph[node]):
                if successor == start:
                    path = [node]
                    while path[-1] != start:
                        path.append(previous[path[-1]])
                    return [*reversed(path), start]
                if successor in members and successor not in previous:
                    previous[successor] = node
                    following.append(successor)
        frontier = following
    raise AssertionError(f"no cycle in {component}")  # a component of two or more has one


def describe(graph: dict[str, dict[str, int]], cycle: list[str]) -> str:
    modules = module_files()
    steps = [
        f"  {a} imports {b} ({modules[a].relative_to(ROOT)}:{graph[a][b]})"
        for a, b in itertools.pairwise(cycle)
    ]
    return " → ".join(cycle) + "\n" + "\n".join(steps)


def test_the_product_has_no_import_cycle():
    graph = import_graph()
    cycles = [a_cycle(graph, component) for component in strongly_connected(graph)]
    assert not cycles, "import cycles in the product:\n\n" + "\n\n".join(
        describe(graph, cycle) for cycle in cycles
    )


# Reads never write, and what writes never runs a worker's task in-process: selectors import no
# service and no task, services no task (they send tasks by name: ``verifications/enqueue.py``).
LAYERS = ("selectors", "services", "tasks")
MAY_NOT_IMPORT = {"selectors": {"services", "tasks"}, "services": {"tasks"}}


def _layer(module: str) -> str | None:
    return next((layer for layer in LAYERS if layer in module.split(".")), None)


def test_selectors_import_no_service_and_services_no_task():
    graph = import_graph()
    modules = module_files()
    wrong = [
        f"{a} imports {b} ({modules[a].relative_to(ROOT)}:{line})"
        for a, edges in sorted(graph.items())
        for b, line in sorted(edges.items())
        if _layer(b) in MAY_NOT_IMPORT.get(_layer(a) or "", set())
    ]
    assert not wrong, "imports against the flow (tasks → services → selectors):\n" + "\n".join(
        wrong
    )


# --- The reading itself --------------------------------------------------------------------------


def test_the_graph_reads_every_product_package_and_every_kind_of_import(tmp_path):
    packages = product_packages()
    assert {"admissions", "verifications"} <= set(packages)
    modules = module_files()
    assert not any(".migrations" in name or ".tests" in name for name in modules)

    source = tmp_path / "mod.py"
    source.write_text(
        "import admissions.models\n"
        "from verifications import models\n"
        "from verifications.models import VerificationRequest\n"
        "from . import sibling\n"
        "from .. import models as up\n"
        "def later():\n"
        "    from verifications import selectors\n"
        "import json\n"
    )
    fake = {
        **{name: Path() for name in ("admissions.models", "verifications.models")},
        **{name: Path() for name in ("verifications.selectors", "verifications.services")},
        "verifications.services.sibling": Path(),
        "verifications": Path(),
    }
    found = {(i.target, i.line) for i in imports_of("verifications.services.mod", source, fake)}
    assert found == {
        ("admissions.models", 1),
        ("verifications.models", 2),
        ("verifications.models", 3),
        ("verifications.services.sibling", 4),
        ("verifications.models", 5),
        ("verifications.selectors", 7),
    }


def test_a_cycle_is_found_and_named():
    graph = {"a": {"b": 1}, "b": {"c": 2}, "c": {"a": 3, "d": 4}, "d": {}}
    components = strongly_connected(graph)
    assert components == [["a", "b", "c"]]
    assert a_cycle(graph, components[0]) == ["a", "b", "c", "a"]
    assert strongly_connected({"a": {"b": 1}, "b": {}}) == []


@pytest.mark.parametrize("package", ["admissions", "verifications"])
def test_known_imports_are_in_the_graph(package):
    """A graph that lost its edges would pass the cycle test vacuously."""
    graph = import_graph()
    assert sum(len(edges) for name, edges in graph.items() if name.startswith(package)) > 20


def test_no_module_imports_another_modules_private_names():
    """A name with a leading underscore is its module's own business: what another module needs
    is made public (and named for that use), never reached into."""
    modules = module_files()
    found = []
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if not isinstance(node, ast.ImportFrom):
                continue
            base = _absolute(name, is_package, node.module, node.level)
            if not _innermost_module(base, modules):
                continue  # a third-party module: not ours to judge
            found.extend(
                f"{path.relative_to(ROOT)}:{node.lineno} imports {base}.{alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            )
    assert not found, "private names imported across modules:\n" + "\n".join(found)


# --- Layers of the packages ----------------------------------------------------------------------
# Dependencies flow one way: verifications → the applicant domain (admissions) → infrastructure
# (admissions.infra). Above them all, and free to import anything: the project configuration
# (admissions' package, settings, celery, urls, wsgi, asgi) and operations (admissions.ops: health
# probes and metrics, which read both domains' rows).
PROJECT = {
    "admissions",
    "admissions.settings",
    "admissions.celery",
    "admissions.urls",
    "admissions.wsgi",
    "admissions.asgi",
}


def _in(package: str, module: str) -> bool:
    return module == package or module.startswith(package + ".")


def _applicant_domain(module: str) -> bool:
    return (
        _in("admissions", module)
        and module not in PROJECT
        and not _in("admissions.infra", module)
        and not _in("admissions.ops", module)
    )


def test_the_applicant_domain_imports_nothing_of_verifications():
    """Where the applicant domain needs the verification domain (recording an applicant's
    claims, following an identity edit, saying verdicts in the audit trail), verifications
    registers hooks at start (``admissions/claim_hooks.py``, ``admissions/audit_words.py``'s
    ``ClaimWords``) or the task is sent by name (``admissions/verify_on_record.py``)."""
    graph = import_graph()
    modules = module_files()
    assert len([name for name in graph if _applicant_domain(name)]) > 20
    wrong = [
        f"{a} imports {b} ({modules[a].relative_to(ROOT)}:{line})"
        for a, edges in sorted(graph.items())
        if _applicant_domain(a)
        for b, line in sorted(edges.items())
        if _in("verifications", b)
    ]
    assert not wrong, (
        "the applicant domain imports verifications (move the code to verifications, or have "
        "verifications register what the domain calls):\n" + "\n".join(wrong)
    )


def test_infrastructure_imports_neither_the_domain_nor_verifications():
    graph = import_graph()
    modules = module_files()
    infra = [name for name in graph if _in("admissions.infra", name)]
    assert len(infra) > 10  # the reading found the package
    wrong = [
        f"{a} imports {b} ({modules[a].relative_to(ROOT)}:{line})"
        for a in sorted(infra)
        for b, line in sorted(graph[a].items())
        if not _in("admissions.infra", b)
    ]
    assert not wrong, "admissions.infra imports outside itself:\n" + "\n".join(wrong)
