"""The package's layers: data flows one way, server -> hooks -> facts -> engine -> cards ->
hooks -> server, and the library API never needs the HTTP stack.

Every module's imports are read with ast (the code is not run), so a new import against the
flow fails here, whichever code path would reach it.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "fhir_module"

#: each unit of the package and its place in the flow: a unit may import only units of a
#: lower rank (the root's own modules are ranked by what they do)
RANKS = {
    "errors": 0,
    "ucum": 1,
    "fhirpath": 2,
    "knowledge": 3,
    "dosing": 4,
    "facts": 5,
    "engine": 6,
    "cards": 7,
    "hooks": 8,
    "package": 8,  # the knowledge as a FHIR NPM package
    "_bundle": 8,  # a plain Bundle as a hook call, the knowledge as a transaction Bundle
    "_push": 9,  # the transaction Bundle sent to a FHIR server, with the hooks' session
    "_validate": 8,  # knowledge files checked against the profiles
    "_api": 9,  # the library API: calls hooks, never server
    "__init__": 10,
    "server": 10,
    "cli": 11,
    "__main__": 12,
}
#: third-party packages of the HTTP service, for server and cli alone
HTTP_STACK = {"fastapi", "starlette", "jwt", "uvicorn", "psycopg", "psycopg_pool", "h11"}
HTTP_UNITS = {"server", "cli"}


def _modules() -> Iterator[tuple[str, Path]]:
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        yield ".".join(parts), path


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """The absolute names of what a module imports, with their line numbers."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here[: len(here) - node.level + 1]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            yield module, node.lineno
            for alias in node.names:  # `from . import _store` imports a module
                yield f"{module}.{alias.name}", node.lineno


def _unit(module: str) -> str | None:
    """The unit of a module of the package: its subpackage, or its own name at the root."""
    parts = module.split(".")
    if parts[0] != "fhir_module":
        return None
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def _is_module(module: str) -> bool:
    parts = module.split(".")
    path = ROOT.joinpath(*parts)
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


Edge = tuple[str, str, str, int]  # importer, imported module, file, line

EDGES: list[Edge] = [
    (name, target, str(path.relative_to(ROOT)), line)
    for name, path in _modules()
    for target, line in _imports(name, path)
]


def against_the_flow(edges: list[Edge]) -> list[str]:
    wrong = []
    for importer, target, file, line in edges:
        source, dest = _unit(importer), _unit(target)
        if dest is None or source is None or source == dest or not _is_module(target):
            continue
        if RANKS[dest] >= RANKS[source]:
            wrong.append(f"{file}:{line}: {source} imports {dest} ({target})")
    return wrong


def cycles(edges: list[Edge]) -> list[str]:
    graph: dict[str, set[str]] = {}
    for importer, target, _, _ in edges:
        source, dest = _unit(importer), _unit(target)
        if source and dest and source != dest and _is_module(target):
            graph.setdefault(source, set()).add(dest)
    found: list[str] = []
    done: set[str] = set()

    def visit(unit: str, path: tuple[str, ...]) -> None:
        if unit in path:
            found.append(" -> ".join((*path[path.index(unit) :], unit)))
            return
        if unit in done:
            return
        for dest in sorted(graph.get(unit, ())):
            visit(dest, (*path, unit))
        done.add(unit)

    for unit in sorted(graph):
        visit(unit, ())
    return found


def private_imports(edges: list[Edge]) -> list[str]:
    wrong = []
    for importer, target, file, line in edges:
        parts = target.split(".")
        if parts[0] != "fhir_module" or len(parts) < 3 or not _is_module(target):
            continue
        if any(p.startswith("_") for p in parts[2:]) and _unit(importer) != parts[1]:
            wrong.append(f"{file}:{line}: imports {target}")
    return wrong


def http_stack_imports(edges: list[Edge]) -> list[str]:
    return [
        f"{file}:{line}: imports {target}"
        for importer, target, file, line in edges
        if target.split(".")[0] in HTTP_STACK and _unit(importer) not in HTTP_UNITS
    ]


def test_every_unit_has_a_rank() -> None:
    units = {_unit(name) for name, _ in _modules()}
    assert units <= set(RANKS), f"rank these units in RANKS: {sorted(units - set(RANKS))}"


@pytest.mark.parametrize(
    "check",
    [against_the_flow, cycles, private_imports, http_stack_imports],
    ids=lambda check: check.__name__,
)
def test_the_package_keeps_its_layers(check: Callable[[list[Edge]], list[str]]) -> None:
    wrong = check(EDGES)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    ("check", "edges"),
    [
        (against_the_flow, [("fhir_module.engine._evaluate", "fhir_module.hooks")]),
        (against_the_flow, [("fhir_module.hooks._pipeline", "fhir_module.server")]),
        (against_the_flow, [("fhir_module._api", "fhir_module.server")]),
        (
            cycles,
            [
                ("fhir_module.engine._evaluate", "fhir_module.cards"),
                ("fhir_module.cards._cards", "fhir_module.engine"),
            ],
        ),
        (private_imports, [("fhir_module.cards._cards", "fhir_module.engine._findings")]),
        (private_imports, [("fhir_module.facts._facts", "fhir_module.knowledge._terminology")]),
        (http_stack_imports, [("fhir_module.hooks._data", "fastapi")]),
        (http_stack_imports, [("fhir_module.engine._call", "jwt")]),
    ],
)
def test_each_check_refuses_what_it_is_for(
    check: Callable[[list[Edge]], list[str]], edges: list[tuple[str, str]]
) -> None:
    assert check([(a, b, "here.py", 1) for a, b in edges])


def test_the_library_api_loads_neither_fastapi_nor_pyjwt() -> None:
    code = (
        "import fhir_module, sys; "
        "fhir_module.evaluate(open('examples/order-sign-pregnancy.request.json').read()); "
        "print('fastapi' in sys.modules, 'jwt' in sys.modules)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False False"


def test_the_cli_evaluate_loads_neither_fastapi_nor_pyjwt() -> None:
    code = (
        "import sys; from fhir_module.cli import main; "
        "status = main(['evaluate', 'examples/order-sign-pregnancy.request.json']); "
        "print(status, 'fastapi' in sys.modules, 'jwt' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert '"cards"' in done.stdout
    assert done.stderr.strip().splitlines()[-1] == "0 False False"
