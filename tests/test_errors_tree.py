"""The exception tree: every exception class of the package is a FhirModuleError, drawn in
errors.py's docstring under its real parent, and answered by a row of the one table."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import fhir_module
from fhir_module import errors
from fhir_module.errors import ANSWERS, FAULT, FhirModuleError, answer_for


def _package_exceptions() -> list[type[BaseException]]:
    found: list[type[BaseException]] = []
    for info in pkgutil.walk_packages(fhir_module.__path__, "fhir_module."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    return found


ALL = _package_exceptions()
#: not errors: control flow that ends a CLI command with its exit code (a SystemExit)
CONTROL_FLOW = {"fhir_module.cli._common.Exit"}
EXCEPTIONS = [cls for cls in ALL if f"{cls.__module__}.{cls.__qualname__}" not in CONTROL_FLOW]


def test_only_the_listed_control_flow_is_outside_the_tree() -> None:
    outside = {f"{c.__module__}.{c.__qualname__}" for c in ALL if not issubclass(c, Exception)}
    assert outside == CONTROL_FLOW


_LINE = re.compile(r"^[ │├└─]*(?P<name>_?[A-Z]\w+)(?: \(\w+\))?\s{2,}")


def _drawn() -> dict[str, str | None]:
    """Each class drawn in errors.py's docstring -> the class drawn as its parent."""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        match = _LINE.match(line.removeprefix("    "))
        if not match:
            continue
        depth = match.start("name") // 4  # four columns a level
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[match["name"]] = stack[-1][1] if stack else None
        stack.append((depth, match["name"]))
    return parents


def test_the_walk_finds_the_classes_outside_errors_py() -> None:
    names = {cls.__name__ for cls in EXCEPTIONS}
    assert {"EntriesFailed", "_Unreadable", "JwksError", "KeyFileError", "Fallback"} <= names


@pytest.mark.parametrize("cls", EXCEPTIONS, ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_each_exception_is_in_the_tree_drawn_and_answered(cls: type[BaseException]) -> None:
    assert issubclass(cls, FhirModuleError), f"{cls.__name__} is not a FhirModuleError"
    drawn = _drawn()
    assert cls.__name__ in drawn, f"{cls.__name__} is not drawn in errors.py"
    parent = drawn[cls.__name__]
    if cls is not FhirModuleError:
        bases = [b.__name__ for b in cls.__bases__ if issubclass(b, FhirModuleError)]
        assert bases == [parent], f"{cls.__name__} is drawn under {parent}, derives from {bases}"
    assert any(c in ANSWERS for c in cls.__mro__), f"{cls.__name__} has no row in ANSWERS"


def test_every_drawn_class_exists() -> None:
    names = {cls.__name__ for cls in EXCEPTIONS}
    assert set(_drawn()) <= names


@pytest.mark.parametrize(
    ("exc", "status", "code", "retry_after"),
    [
        (errors.Unauthorized("aud"), 401, "login", None),
        (errors.ReplayCacheFull("https://issuer.example", 3), 401, "security", None),
        (errors.StoreUnavailable("disk full"), 503, "transient", 5),
        (errors.UnknownService(), 404, "not-found", None),
        (errors.TooLarge("too many"), 413, "too-costly", None),
        (errors.TooMuchFeedback(10), 429, "throttled", None),
        (errors.FetchFailed("patient", "gone"), 412, "incomplete", None),
        (errors.InvalidRequest("bad"), 400, "invalid", None),
        (errors.KnowledgeError("f.json", "x", "broken"), 500, "exception", None),
        (errors.UnreadableDose("no unit"), 500, "exception", None),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None,
)
def test_the_table_answers(
    exc: BaseException, status: int, code: str, retry_after: int | None
) -> None:
    answer = answer_for(exc)
    assert (answer.status, answer.code, answer.retry_after) == (status, code, retry_after)


def test_issue_codes_come_from_the_table_unless_given_where_raised() -> None:
    for exc in (errors.UnknownService(), errors.TooLarge("x"), errors.TooMuchFeedback(1)):
        assert exc.code is None
    assert errors.FetchFailed("k", "r").code is None
    assert errors.FetchFailed("k", "r", "too-costly").code == "too-costly"
    assert errors.RequestProblem("x", None, "required").code == "required"


def test_anything_outside_the_package_is_a_fault() -> None:
    assert answer_for(ValueError("x")) is FAULT


@pytest.mark.parametrize(
    ("exc", "status", "code"),
    [
        (errors.WrongHost("Host"), 421, "security"),
        (errors.BodyTimeout("slow"), 408, "timeout"),
        (errors.NoSuchPath("nowhere"), 404, "not-found"),
        (errors.MethodNotAllowed("DELETE"), 405, "not-supported"),
        (errors.HttpRefused("refused"), 400, "processing"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, BaseException) else None,
)
def test_the_http_layers_own_refusals_have_rows(exc: BaseException, status: int, code: str) -> None:
    answer = answer_for(exc)
    assert (answer.status, answer.code) == (status, code)


def test_the_guard_and_the_app_state_no_status_of_their_own() -> None:
    import ast
    from pathlib import Path

    server = Path(fhir_module.__file__).parent / "server"
    for name in ("_guard.py", "_app.py"):
        tree = ast.parse((server / name).read_text())
        found = [
            node.value
            for node in ast.walk(tree)
            if isinstance(node, ast.Constant)
            and type(node.value) is int
            and 400 <= node.value < 600
        ]
        assert found == [], f"{name} states statuses {found}: they belong in errors.ANSWERS"
