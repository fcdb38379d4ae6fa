"""The package's layers: data flows one way, server -> hooks -> facts -> engine -> cards ->
hooks -> server, and the library API never needs the HTTP stack.

Every module's imports are read with ast (the code is not run), so a new import against the
flow fails here, whichever code path would reach it: `import`, `from ... import`, and the
dynamic ones, `importlib.import_module(...)` and `__import__(...)`, whose module names are
read from literals, f-strings (`__name__`, `__package__`), `+` and the literal tables and
loops they are built from. A dynamic import whose name cannot be read so is refused.

A unit's private (`_name`) modules are its own; the root's (`_api`, `_bundle`, `_push`,
`_validate`) are the root package's alone: the other units use the names `fhir_module`
exports.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
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
    """Each module's name (a package's ``__init__.py`` is the package) and its source."""
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        yield ".".join(parts), path


#: where a module name that an import cannot read is reported (an edge to this "module")
UNREADABLE = "<unreadable>"


def _imports(name: str, path: Path) -> Iterator[tuple[str, int]]:
    """The absolute names of what a module imports, with their line numbers: `import`,
    `from ... import`, and `importlib.import_module(...)` / `__import__(...)` calls, whose
    names are read from literals, f-strings and the literal tables they are built from."""
    is_package = path.name == "__init__.py"
    here = name.split(".") if is_package else name.split(".")[:-1]
    tree = ast.parse(path.read_text(), str(path))
    callers = _import_callables(tree)
    for node in ast.walk(tree):
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
    for call, scopes in _calls(tree):
        kind = _import_call_kind(call.func, callers)
        if kind is not None:
            for target in _dynamic_targets(call, kind, scopes, name, here):
                yield target, call.lineno


def _import_callables(tree: ast.Module) -> dict[str, str]:
    """Local names of `importlib` and of its import functions: name -> what it is."""
    found = {"__import__": "__import__"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in ("importlib", "builtins"):
                    found[alias.asname or alias.name] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module in ("importlib", "builtins"):
            for alias in node.names:
                if alias.name in ("import_module", "__import__"):
                    found[alias.asname or alias.name] = alias.name
    return found


def _import_call_kind(func: ast.expr, callers: dict[str, str]) -> str | None:
    """'import_module' or '__import__' if a call's callee is one of them, else None."""
    if isinstance(func, ast.Name):
        kind = callers.get(func.id)
        return kind if kind in ("import_module", "__import__") else None
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        owner = callers.get(func.value.id)
        if owner == "importlib" and func.attr in ("import_module", "__import__"):
            return func.attr
        if owner == "builtins" and func.attr == "__import__":
            return "__import__"
    return None


FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)
Scopes = tuple[ast.AST, ...]  # the module, then each function a node is in, innermost last


def _calls(tree: ast.Module) -> Iterator[tuple[ast.Call, Scopes]]:
    def visit(node: ast.AST, scopes: Scopes) -> Iterator[tuple[ast.Call, Scopes]]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.Call):
                yield child, scopes
            inner = (*scopes, child) if isinstance(child, FUNCTIONS) else scopes
            yield from visit(child, inner)

    yield from visit(tree, (tree,))


def _dynamic_targets(
    call: ast.Call, kind: str, scopes: Scopes, name: str, here: list[str]
) -> list[str]:
    """The absolute module names a dynamic import may import; UNREADABLE if any is unknown."""
    arguments = {k.arg: k.value for k in call.keywords if k.arg}
    first = call.args[0] if call.args else arguments.get("name")
    names = _strings(first, scopes, name, here) if first is not None else None
    if names is None:
        return [UNREADABLE]
    targets = []
    if kind == "import_module":
        package = call.args[1] if len(call.args) > 1 else arguments.get("package")
        packages = _strings(package, scopes, name, here) if package is not None else set()
        for module in sorted(names):
            if module.startswith("."):
                if not packages:
                    return [UNREADABLE]
                targets.extend(_relative(module, p.split(".")) for p in sorted(packages))
            else:
                targets.append(module)
        return targets
    level_node = call.args[4] if len(call.args) > 4 else arguments.get("level")
    level = 0
    if level_node is not None:
        if not (isinstance(level_node, ast.Constant) and type(level_node.value) is int):
            return [UNREADABLE]
        level = level_node.value
    fromlist_node = call.args[3] if len(call.args) > 3 else arguments.get("fromlist")
    members = _elements(fromlist_node, scopes, name, here) if fromlist_node is not None else set()
    if members is None:
        return [UNREADABLE]
    for module in sorted(names):
        base = _relative("." * level + module, here) if level else module
        targets.append(base)
        targets.extend(f"{base}.{member}" for member in sorted(members))
    return targets


def _relative(module: str, package: list[str]) -> str:
    level = len(module) - len(module.lstrip("."))
    base = package[: len(package) - level + 1]
    rest = module[level:]
    return ".".join([*base, rest] if rest else base)


def _product(parts: list[set[str] | None]) -> set[str] | None:
    found = {""}
    for part in parts:
        if part is None:
            return None
        found = {a + b for a in found for b in part}
    return found


def _strings(expr: ast.expr, scopes: Scopes, name: str, here: list[str]) -> set[str] | None:
    """The strings an expression may be, or None if they cannot be read from the source."""
    if isinstance(expr, ast.Constant):
        return {expr.value} if type(expr.value) is str else None
    if isinstance(expr, ast.JoinedStr):
        return _product([_strings(v, scopes, name, here) for v in expr.values])
    if isinstance(expr, ast.FormattedValue):
        return None if expr.format_spec else _strings(expr.value, scopes, name, here)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _product(
            [_strings(expr.left, scopes, name, here), _strings(expr.right, scopes, name, here)]
        )
    if isinstance(expr, ast.Name):
        if expr.id == "__name__":
            return {name}
        if expr.id == "__package__":
            return {".".join(here)}
        return _bound(expr.id, scopes, name, here)
    table = None  # TABLE[key] or TABLE.get(key): any value of a literal table
    if isinstance(expr, ast.Subscript):
        table = expr.value
    elif (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr == "get"
        and len(expr.args) == 1
    ):
        table = expr.func.value
    if table is not None:
        literal = _literal(table, scopes)
        if isinstance(literal, ast.Dict):
            return _union([_strings(v, scopes, name, here) for v in literal.values])
        if isinstance(literal, ast.Tuple | ast.List):
            return _union([_strings(v, scopes, name, here) for v in literal.elts])
    return None


def _elements(expr: ast.expr, scopes: Scopes, name: str, here: list[str]) -> set[str] | None:
    """The strings iterating over an expression gives, or None if they cannot be read."""
    if (
        isinstance(expr, ast.Call)
        and isinstance(expr.func, ast.Attribute)
        and expr.func.attr in ("keys", "values")
        and not expr.args
    ):
        literal = _literal(expr.func.value, scopes)
        if isinstance(literal, ast.Dict):
            items = literal.values if expr.func.attr == "values" else literal.keys
            return _union([_strings(v, scopes, name, here) if v else None for v in items])
        return None
    literal = _literal(expr, scopes)
    if isinstance(literal, ast.Tuple | ast.List | ast.Set):
        return _union([_strings(v, scopes, name, here) for v in literal.elts])
    if isinstance(literal, ast.Dict):
        return _union([_strings(k, scopes, name, here) if k else None for k in literal.keys])
    return None


def _union(parts: list[set[str] | None]) -> set[str] | None:
    found: set[str] = set()
    for part in parts:
        if part is None:
            return None
        found |= part
    return found


def _literal(expr: ast.expr, scopes: Scopes) -> ast.expr | None:
    """A literal collection, itself or the one a module-level name is bound to once."""
    if isinstance(expr, ast.Tuple | ast.List | ast.Set | ast.Dict):
        return expr
    if isinstance(expr, ast.Name):
        values = [v for kind, v in _bindings(expr.id, scopes[0]) if kind == "value"]
        if len(values) == 1 and len(_bindings(expr.id, scopes[0])) == 1:
            return _literal(values[0], scopes[:1])
    return None


def _bindings(name: str, scope: ast.AST) -> list[tuple[str, ast.expr | None]]:
    """How a scope binds a name, its nested functions and classes left out: ('value',
    expression), ('element', what is iterated) or ('unknown', None)."""
    found: list[tuple[str, ast.expr | None]] = []

    def bind(target: ast.AST, value: ast.expr | None, kind: str) -> None:
        if isinstance(target, ast.Name) and target.id == name:
            found.append((kind, value) if value is not None else ("unknown", None))
        elif any(isinstance(n, ast.Name) and n.id == name for n in ast.walk(target)):
            found.append(("unknown", None))  # unpacked, starred: not read

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if child.name == name:
                    found.append(("unknown", None))
                continue
            if isinstance(child, ast.Lambda):
                continue
            if isinstance(child, ast.Assign):
                for target in child.targets:
                    bind(target, child.value, "value")
            elif isinstance(child, ast.AnnAssign | ast.NamedExpr):
                bind(child.target, child.value, "value")
            elif isinstance(child, ast.AugAssign):
                bind(child.target, None, "unknown")
            elif isinstance(child, ast.For | ast.AsyncFor | ast.comprehension):
                bind(child.target, child.iter, "element")
            elif isinstance(child, ast.withitem) and child.optional_vars is not None:
                bind(child.optional_vars, None, "unknown")
            elif (
                (isinstance(child, ast.arg) and child.arg == name)
                or (isinstance(child, ast.alias) and (child.asname or child.name) == name)
                or (isinstance(child, ast.ExceptHandler) and child.name == name)
                or (isinstance(child, ast.Global | ast.Nonlocal) and name in child.names)
            ):
                found.append(("unknown", None))
            visit(child)

    visit(scope)
    return found


_RESOLVING: set[tuple[int, str]] = set()  # the names being read, against self-reference


def _bound(name: str, scopes: Scopes, module: str, here: list[str]) -> set[str] | None:
    """The strings a name may hold where it is used: the innermost scope that binds it."""
    for depth in range(len(scopes), 0, -1):
        scope = scopes[depth - 1]
        bindings = _bindings(name, scope)
        if not bindings:
            continue
        key = (id(scope), name)
        if key in _RESOLVING:
            return None
        _RESOLVING.add(key)
        try:
            parts = []
            for kind, value in bindings:
                if value is None:
                    return None
                read = _strings if kind == "value" else _elements
                parts.append(read(value, scopes[:depth], module, here))
            return _union(parts)
        finally:
            _RESOLVING.discard(key)
    return None


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


def edges_of(name: str, path: Path, file: str) -> list[Edge]:
    """The imports of the module ``name`` whose source is at ``path``."""
    return [(name, target, file, line) for target, line in _imports(name, path)]


EDGES: list[Edge] = [
    edge for name, path in _modules() for edge in edges_of(name, path, str(path.relative_to(ROOT)))
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


def _is_root(module: str) -> bool:
    """The root package or one of its own modules (``fhir_module._api``, ...)."""
    return module.split(".")[0] == "fhir_module" and len(module.split(".")) <= 2


def private_imports(edges: list[Edge]) -> list[str]:
    """A unit's private (``_name``) modules are its own; the root's private modules
    (``_api``, ``_bundle``, ``_push``, ``_validate``) are the root package's alone, the rest
    reaching them through the names ``fhir_module`` exports."""
    wrong = []
    for importer, target, file, line in edges:
        parts = target.split(".")
        if parts[0] != "fhir_module" or len(parts) < 2 or not _is_module(target):
            continue
        if len(parts) == 2:
            if parts[1].startswith("_") and not _is_root(importer):
                wrong.append(f"{file}:{line}: imports the root's private {target}")
        elif any(p.startswith("_") for p in parts[2:]) and _unit(importer) != parts[1]:
            wrong.append(f"{file}:{line}: imports {target}")
    return wrong


def unreadable_imports(edges: list[Edge]) -> list[str]:
    """A dynamic import whose module name is not written in the source (a literal, an
    f-string of literals, ``__name__``, or a literal table) cannot be checked: refused."""
    return [
        f"{file}:{line}: imports a module whose name cannot be read from the source"
        for _, target, file, line in edges
        if target == UNREADABLE
    ]


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
    [against_the_flow, cycles, private_imports, http_stack_imports, unreadable_imports],
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
        (private_imports, [("fhir_module.cli._export", "fhir_module._bundle")]),
        (private_imports, [("fhir_module.server._app", "fhir_module._api")]),
        (unreadable_imports, [("fhir_module.cli", UNREADABLE)]),
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


SERVICE_IDS_CONFIG = """public_base_url = "https://cds.example.org"
[[clients]]
issuer = "https://ehr.example.org"
jwks_url = "https://ehr.example.org/jwks.json"
fhir_servers = ["https://ehr.example.org/fhir"]
[service_ids]
order-sign = "acme-order-sign"
"""


@pytest.mark.parametrize(
    "args",
    [
        ["examples/order-sign-pregnancy.request.json"],
        ["examples/bundle-paediatric-overdose-asthma.bundle.json"],
        ["--config", "{config}", "--service", "acme-order-sign",
         "examples/order-sign-pregnancy.request.json"],
    ],
)  # fmt: skip
def test_the_cli_evaluate_imports_nothing_of_the_server(tmp_path: Path, args: list[str]) -> None:
    config = tmp_path / "service.toml"
    config.write_text(SERVICE_IDS_CONFIG)
    argv = ["evaluate", *(a.format(config=config) for a in args)]
    code = (
        "import sys; from fhir_module.cli import main; "
        f"status = main({argv!r}); "
        "loaded = sorted(m for m in sys.modules if m == 'fhir_module.server' "
        "or m.startswith(('fhir_module.server.', 'fastapi', 'jwt', 'starlette', 'uvicorn'))); "
        "print(status, loaded, file=sys.stderr)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert '"cards"' in done.stdout, done.stderr
    assert done.stderr.strip().splitlines()[-1] == "0 []"


#: the modules that keep no state between calls but in their one memo (dosing/_memo.py)
STATELESS = ["fhir_module/ucum.py", "fhir_module/dosing/*.py"]
MEMO_SEAM = "fhir_module/dosing/_memo.py"
MUTATORS = {
    "append", "extend", "insert", "pop", "popitem", "clear", "update", "setdefault",
    "add", "discard", "remove", "__setitem__", "__delitem__",
}  # fmt: skip


def module_state_writes(path: Path, file: str) -> list[str]:
    """Where a function writes to a name of its module (``TABLE[key] = ...``,
    ``TABLE.update(...)``, ``global``): state kept between calls."""
    tree = ast.parse(path.read_text(), str(path))
    module_names = {
        target.id
        for node in tree.body
        if isinstance(node, ast.Assign | ast.AnnAssign)
        for target in (node.targets if isinstance(node, ast.Assign) else [node.target])
        if isinstance(target, ast.Name)
    }
    wrong = []
    for function in ast.walk(tree):
        if not isinstance(function, FUNCTIONS):
            continue
        local = {a.arg for a in ast.walk(function.args) if isinstance(a, ast.arg)} | {
            n.id
            for n in ast.walk(function)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)
        }
        shared = module_names - local
        for node in ast.walk(function):
            name = None
            if isinstance(node, ast.Global | ast.Nonlocal):
                name = ", ".join(node.names)
            elif isinstance(node, ast.Subscript | ast.Attribute) and isinstance(
                node.ctx, ast.Store | ast.Del
            ):
                name = _shared_name(node.value, shared)
            elif (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in MUTATORS
            ):
                name = _shared_name(node.func.value, shared)
            if name:
                wrong.append(f"{file}:{node.lineno}: writes to the module's {name}")
    return wrong


def _shared_name(node: ast.expr, shared: set[str]) -> str | None:
    return node.id if isinstance(node, ast.Name) and node.id in shared else None


def test_dosing_and_ucum_keep_no_state_but_their_memo() -> None:
    files = sorted({p for pattern in STATELESS for p in ROOT.glob(pattern)})
    assert len(files) > 5
    wrong = [
        problem
        for path in files
        if path.relative_to(ROOT).as_posix() != MEMO_SEAM
        for problem in module_state_writes(path, path.relative_to(ROOT).as_posix())
    ]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "source",
    [
        "_seen = {}\n\ndef rate(text):\n    _seen[text] = len(text)\n",
        "_seen = {}\n\ndef rate(text):\n    return _seen.setdefault(text, len(text))\n",
        "_last = None\n\ndef rate(text):\n    global _last\n    _last = text\n",
        "_cache = []\n\ndef rate(text):\n    if len(_cache) < 9:\n        _cache.append(text)\n",
    ],
)
def test_state_kept_between_calls_is_found(tmp_path: Path, source: str) -> None:
    (tmp_path / "m.py").write_text(source)
    assert module_state_writes(tmp_path / "m.py", "m.py")


def test_a_function_own_table_is_not_state(tmp_path: Path) -> None:
    source = "TABLE = {}\n\ndef build():\n    TABLE = {}\n    TABLE['a'] = 1\n    return TABLE\n"
    (tmp_path / "m.py").write_text(source)
    assert module_state_writes(tmp_path / "m.py", "m.py") == []


def _checked(tmp_path: Path, module: str, source: str) -> list[str]:
    """Every check's complaints about one module's source, written to a file first."""
    is_package = module.count(".") == 1 and module.split(".")[1] in RANKS
    name = "__init__.py" if is_package else f"{module.rsplit('.', 1)[-1]}.py"
    path = tmp_path / name
    path.write_text(textwrap.dedent(source))
    edges = edges_of(module, path, name)
    checks = [against_the_flow, cycles, private_imports, http_stack_imports, unreadable_imports]
    return [problem for check in checks for problem in check(edges)]


@pytest.mark.parametrize(
    ("module", "source", "expected"),
    [
        (
            "fhir_module.cli._export",
            "from .._bundle import transaction_bundle\n",
            "the root's private fhir_module._bundle",
        ),
        (
            "fhir_module.cli._push",
            "from .. import _push\n",
            "the root's private fhir_module._push",
        ),
        (
            "fhir_module.server._app",
            "import fhir_module._api as api\n",
            "the root's private fhir_module._api",
        ),
        (
            "fhir_module.server._app",
            """\
            import importlib

            def load():
                return importlib.import_module("fhir_module._validate")
            """,
            "the root's private fhir_module._validate",
        ),
        (
            "fhir_module.cards._cards",
            """\
            from importlib import import_module as load

            findings = load("fhir_module.engine._findings")
            """,
            "imports fhir_module.engine._findings",
        ),
        (
            "fhir_module.hooks._pipeline",
            'store = __import__("fhir_module.server._store", fromlist=["Store"])\n',
            "hooks imports server (fhir_module.server._store)",
        ),
        (
            "fhir_module.facts._facts",
            """\
            import importlib

            terms = importlib.import_module("._terminology", package="fhir_module.knowledge")
            """,
            "imports fhir_module.knowledge._terminology",
        ),
        (
            "fhir_module.cards._cards",
            """\
            import builtins

            def load(name):
                return builtins.__import__(name, globals(), None, ["x"], 2)

            engine = builtins.__import__("engine._evaluate", globals(), None, ["x"], 2)
            """,
            "imports fhir_module.engine._evaluate",
        ),
        (
            "fhir_module.engine._evaluate",
            """\
            from importlib import import_module

            _HOMES = {"render": "_cards", "texts": "_texts"}

            def __getattr__(name):
                home = _HOMES.get(name)
                return getattr(import_module(f"fhir_module.cards.{home}"), name)
            """,
            "engine imports cards (fhir_module.cards._cards)",
        ),
        (
            "fhir_module.dosing._compute",
            """\
            from importlib import import_module

            UNITS = ("ucum", "facts")

            for unit in UNITS:
                import_module("fhir_module." + unit)
            """,
            "dosing imports facts (fhir_module.facts)",
        ),
        (
            "fhir_module.engine._call",
            'jwt = __import__("jwt")\n',
            "imports jwt",
        ),
        (
            "fhir_module.hooks._data",
            """\
            import importlib

            def load(name):
                return importlib.import_module(f"fhir_module.{name}")
            """,
            "whose name cannot be read from the source",
        ),
        (
            "fhir_module.hooks._data",
            """\
            import importlib

            NAME = "fhir_module.knowledge"
            NAME = NAME + "._load"
            importlib.import_module(NAME)
            """,
            "whose name cannot be read from the source",
        ),
    ],
)
def test_the_checks_read_every_way_of_importing(
    tmp_path: Path, module: str, source: str, expected: str
) -> None:
    problems = _checked(tmp_path, module, source)
    assert any(expected in problem for problem in problems), problems


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("fhir_module", "from ._push import push_bundle\nfrom . import _validate\n"),
        ("fhir_module._api", "from ._bundle import bundle_as_hook\n"),
        ("fhir_module.cli._export", "from .. import transaction_bundle\n"),
        (
            "fhir_module.server",
            """\
            from importlib import import_module

            _HOMES = {"create_app": "_app", "Store": "_store"}

            def __getattr__(name):
                home = _HOMES.get(name)
                if home is None:
                    raise AttributeError(name)
                return getattr(import_module(f"{__name__}.{home}"), name)
            """,
        ),
        (
            "fhir_module",
            """\
            import importlib

            _LAZY = {"push_bundle": "._push"}

            def __getattr__(name):
                return getattr(importlib.import_module(_LAZY[name], __name__), name)
            """,
        ),
    ],
)
def test_the_checks_let_through_what_the_layers_allow(
    tmp_path: Path, module: str, source: str
) -> None:
    assert _checked(tmp_path, module, source) == []


def test_the_dynamic_imports_of_the_package_are_read() -> None:
    found = {(importer, target) for importer, target, _, _ in EDGES}
    assert ("fhir_module.cli", "fhir_module.cli._evaluate") in found  # a table of commands
    assert ("fhir_module.server", "fhir_module.server._app") in found  # lazy exports
