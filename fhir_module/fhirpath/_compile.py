"""FHIRPath compiled once, with strict syntax checking.

fhirpathpy's own parser recovers silently from syntax errors, so an expression
with a typo would load and then never fire. This module parses with an error
listener that raises, and dry-runs each expression against the documented
variables (all empty), which catches unknown functions and variables at load.

The common shapes run on the fast subset (`_fast`); fhirpathpy runs the rest.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import fhirpathpy
from antlr4 import CommonTokenStream, InputStream, Token
from antlr4.error.ErrorListener import ErrorListener
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from ..errors import FhirModuleError
from ._fast import Fallback, compile_fast


class Compiled:
    """A compiled expression, called as fhirpathpy's are: ``compiled(resource, variables)``."""

    __slots__ = ("text", "_run", "_fast")

    def __init__(self, text: str) -> None:
        self.text = text
        self._run = fhirpathpy.compile(text)
        tree = getattr(self._run, "parsedPath", None)  # fhirpathpy keeps its parse tree here
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
    """Evaluate against the environment (the resource context is empty)."""
    return compiled({}, env) if compiled.fast else compiled({}, dict(env))
