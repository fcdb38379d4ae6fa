"""FHIRPath compiled once, with strict syntax checking.

fhirpathpy's own parser recovers silently from syntax errors, so an expression
with a typo would load and then never fire. This module parses with an error
listener that raises, and dry-runs each expression against the documented
variables (all empty), which catches unknown functions and variables at load.

Each compiled expression knows the variables it reads, so the `Results` of a hook
call can answer it again, without running it, when those variables hold the same
values: the orders of one call mostly share them, and fhirpathpy is slow.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import fhirpathpy
from antlr4 import CommonTokenStream, InputStream, Token
from antlr4.error.ErrorListener import ErrorListener
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from ..errors import FhirModuleError
from ._fast import Fallback, compile_fast

#: functions whose result is not a function of the variables (the clock), or that log
VOLATILE = frozenset({"now", "today", "timeOfDay", "trace"})


class Compiled:
    """A compiled expression, called as fhirpathpy's are: ``compiled(resource, variables)``.

    `reads` names the variables it reads, sorted; None when its result may differ
    between two runs on the same variables (it reads the clock), so it is never cached.
    """

    __slots__ = ("text", "reads", "_run", "_fast")

    def __init__(self, text: str) -> None:
        self.text = text
        self._run = fhirpathpy.compile(text)
        tree = getattr(self._run, "parsedPath", None)  # fhirpathpy keeps its parse tree here
        self.reads = _reads(tree) if isinstance(tree, Mapping) else None
        self._fast = compile_fast(tree) if isinstance(tree, Mapping) else None

    def __call__(self, resource: Any, variables: Mapping[str, Any] | None = None) -> list[Any]:
        if self._fast is not None and resource == {} and variables is not None:
            try:
                return self._fast(variables)
            except Fallback:
                pass  # values the fast evaluator leaves to fhirpathpy
        result: list[Any] = self._run(resource, variables)
        return result

    def slow(self, variables: Mapping[str, Any]) -> list[Any]:
        """fhirpathpy's own result, for checking the fast evaluator against it."""
        result: list[Any] = self._run({}, variables)
        return result

    @property
    def fast(self) -> bool:
        """Whether the fast evaluator handles this expression."""
        return self._fast is not None


def _reads(tree: Mapping[str, Any]) -> tuple[str, ...] | None:
    """The %variables a parsed expression reads, or None if it calls a volatile function."""
    names: set[str] = set()
    stack = [tree]
    while stack:
        node = stack.pop()
        children = node.get("children") or []
        if node.get("type") == "ExternalConstant":
            if len(children) != 1 or children[0].get("type") != "Identifier":
                return None
            names.add(str(children[0].get("text")).replace("`", ""))  # as fhirpathpy reads it
        elif node.get("type") == "Functn" and children and children[0].get("text") in VOLATILE:
            return None
        stack.extend(children)
    return tuple(sorted(names))


class FhirPathError(FhirModuleError, ValueError):
    """An expression does not parse or does not run against the documented variables."""


class _Raise(ErrorListener):  # type: ignore[misc]  # antlr4 ships no type hints
    def syntaxError(
        self,
        recognizer: Any,
        offendingSymbol: Any,
        line: int,
        column: int,  # noqa: N802
        msg: str,
        e: Any,
    ) -> None:
        raise FhirPathError(f"syntax error at column {column + 1}: {msg}")


def check_syntax(expression: str) -> None:
    """Raise FhirPathError unless the whole expression parses."""
    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_Raise())
    stream = CommonTokenStream(lexer)
    parser = FHIRPathParser(stream)
    parser.removeErrorListeners()
    parser.addErrorListener(_Raise())
    parser.expression()
    if stream.LA(1) != Token.EOF:
        raise FhirPathError(f"unexpected text after column {stream.LT(1).column}")


def compile_expression(expression: str, variables: Iterable[str]) -> Compiled:
    """Compile an expression, checked for syntax and dry-run with empty variables."""
    check_syntax(expression)
    compiled = Compiled(expression)
    try:
        compiled({}, {name: [] for name in variables})
    except Exception as exc:  # fhirpathpy raises bare Exception for unknown functions
        raise FhirPathError(str(exc)) from None
    return compiled


def evaluate(compiled: Compiled, env: Mapping[str, Any]) -> list[Any]:
    """Evaluate against the environment (the resource context is empty).

    In an `Environment`, a result already computed on the same values is given again
    from its Results: the callers only read results, never change them.
    """
    if type(env) is Environment:
        return env.results.evaluate(compiled, env)
    return compiled({}, dict(env))


class Environment(dict[str, Any]):
    """The variables of one evaluation, and the Results of the hook call they belong to."""

    __slots__ = ("results",)

    def __init__(self, results: Results, variables: Mapping[str, Any]) -> None:
        super().__init__(variables)
        self.results = results


_ABSENT = object()
_SCALARS = frozenset({str, int, bool, type(None)})


class Results:
    """Results of expressions within one hook call, by the values of the variables they read.

    An expression is known by its text, so the same placeholder in a title, a detail
    and a suggestion runs once. Values are compared by content and type (1, 1.0, True
    and Decimal('1.0') all differ, as do 0.0 and -0.0). A container is read once per
    call, by identity, and kept alive: the engine must not change a value once it is
    in an environment. Equal containers get the same small token, so a key stays short.
    """

    def __init__(self) -> None:
        self._results: dict[tuple[Any, ...], list[Any]] = {}
        self._containers: dict[int, tuple[Any, int]] = {}
        self._tokens: dict[tuple[Any, ...], int] = {}

    def evaluate(self, compiled: Compiled, env: Mapping[str, Any]) -> list[Any]:
        if compiled.fast:
            return compiled({}, env)  # running it costs less than keying its result
        if compiled.reads is None:
            return compiled({}, dict(env))
        key = (compiled.text, *[self._freeze(env.get(name, _ABSENT)) for name in compiled.reads])
        found = self._results.get(key)
        if found is None:
            found = self._results[key] = compiled({}, dict(env))
        return found

    def _freeze(self, value: Any) -> Any:
        kind = type(value)
        if kind in _SCALARS:
            return (kind, value)
        if kind is float or kind is Decimal:
            return (kind, repr(value))
        if kind is dict or kind is list:
            seen = self._containers.get(id(value))
            if seen is not None and seen[0] is value:
                return seen[1]
            items = value.items() if kind is dict else enumerate(value)
            content = (kind, *[(k, self._freeze(v)) for k, v in items])
            token = self._tokens.setdefault(content, len(self._tokens))
            self._containers[id(value)] = (value, token)
            return token
        return object()  # anything else never matches: the expression runs
