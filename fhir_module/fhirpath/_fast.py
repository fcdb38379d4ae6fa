"""A direct evaluator for the small part of FHIRPath most rule conditions are made of.

fhirpathpy interprets its parse tree anew on every run, and on a hook call its
overhead was most of the engine's time. Conditions like
``%route = 'oral' and %dose.computed and %dailyDose > %guideline.maximum.maxDaily``
need only variables, member access, literals, comparison, arithmetic, boolean
logic and exists()/empty()/not(); card texts add iif(), select() with $this,
join(), toString() and `&`. This module turns such a tree into Python closures once,
at load. Anything outside that subset, at compile time or on
values it does not handle (a comparison of a list, a non-boolean in `and`), is
left to fhirpathpy: `Fallback` is raised and the caller runs the expression there.
Results follow the FHIRPath specification and match fhirpathpy's (a test compares
them on every example).
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from fhirpathpy.engine.evaluators import string_literal

from ..errors import FhirModuleError

# fhirpathpy ships no type hints: its evaluator of a string literal's text
_string_literal: Callable[[Any, Any, Mapping[str, Any]], list[Any]] = string_literal

Run = Callable[[Mapping[str, Any]], list[Any]]
Node = Mapping[str, Any]


class Fallback(FhirModuleError):
    """The fast evaluator does not handle this expression or these values."""


def _children(node: Node) -> list[Node]:
    return list(node.get("children") or [])


def _ops(node: Node) -> list[str]:
    return list(node.get("terminalNodeText") or [])


def _collection(value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _scalar(items: list[Any]) -> Any:
    """The one item of a collection that may take part in comparison or arithmetic."""
    if len(items) != 1:
        raise Fallback
    item = items[0]
    if type(item) not in (str, int, float, bool):
        raise Fallback
    return item


def _truth(items: list[Any]) -> bool | None:
    """FHIRPath's three-valued logic: empty is unknown; only a single boolean is handled."""
    if not items:
        return None
    if len(items) == 1 and type(items[0]) is bool:
        return bool(items[0])
    raise Fallback


def compile_fast(tree: Node) -> Run | None:
    """A closure that evaluates the parse tree, or None if it leaves the subset."""
    try:
        return _compile(tree)
    except Fallback:
        return None


def _compile(node: Node) -> Run:
    kind = node.get("type")
    children = _children(node)
    if (
        kind in (None, "TermExpression", "ExternalConstantTerm", "LiteralTerm")
        and len(children) == 1
    ):
        return _compile(children[0])
    if kind == "ParenthesizedTerm" and len(children) == 1:
        return _compile(children[0])
    if kind == "ExternalConstant":
        return _variable(children)
    if kind == "StringLiteral":
        return _string(str(node.get("text")))
    if kind == "BooleanLiteral":
        value = node.get("text") == "true"
        return lambda env: [value]
    if kind == "InvocationTerm" and len(children) == 1:
        term = children[0]
        if term.get("type") == "ThisInvocation":
            return _this
        if term.get("type") == "FunctionInvocation":
            # iif(...) ignores its input; any other function called bare, as in
            # `select(toString())`, reads the focus, $this
            return _invocation(_no_input if _function_name(term) == "iif" else _this, term)
        raise Fallback
    if kind == "InvocationExpression" and len(children) == 2:
        return _invocation(_compile(children[0]), children[1])
    if kind in ("AndExpression", "OrExpression") and len(children) == 2:
        return _logic(kind, _compile(children[0]), _compile(children[1]))
    if kind == "UnionExpression" and len(children) == 2:
        return _union(_compile(children[0]), _compile(children[1]))
    if (
        kind in ("EqualityExpression", "InequalityExpression", "AdditiveExpression")
        and len(children) == 2
        and len(_ops(node)) == 1
    ):
        return _binary(_ops(node)[0], _compile(children[0]), _compile(children[1]))
    raise Fallback


def _variable(children: list[Node]) -> Run:
    if len(children) != 1 or children[0].get("type") != "Identifier":
        raise Fallback
    name = str(children[0].get("text"))
    if name.startswith(("`", "'")):
        raise Fallback

    def run(env: Mapping[str, Any]) -> list[Any]:
        if name not in env:
            raise Fallback  # fhirpathpy names the undefined variable
        value = env[name]
        if type(value) is list:
            for item in value:
                if item is None or type(item) is list:
                    raise Fallback  # fhirpathpy drops nulls and flattens nested lists
            return value
        return _collection(value)

    return run


#: where select() puts the item its projection is evaluated on; no %variable can be named so
_THIS = "$this"


def _this(env: Mapping[str, Any]) -> list[Any]:
    if _THIS not in env:
        raise Fallback  # $this outside select(): the resource, which fhirpathpy handles
    return [env[_THIS]]


def _no_input(env: Mapping[str, Any]) -> list[Any]:
    raise Fallback  # only functions that ignore their input are compiled onto it


def _string(text: str) -> Run:
    if len(text) < 2 or text[0] != "'" or text[-1] != "'":
        raise Fallback
    # fhirpathpy's own reading of the literal (its escapes), once, at compile time
    found = _string_literal(None, None, {"text": text})
    if len(found) != 1 or type(found[0]) is not str:
        raise Fallback
    value = found[0]
    return lambda env: [value]


def _invocation(base: Run, call: Node) -> Run:
    children = _children(call)
    if (
        call.get("type") == "MemberInvocation"
        and len(children) == 1
        and children[0].get("type") == "Identifier"
    ):
        name = str(children[0].get("text"))
        if name.startswith("`"):
            raise Fallback

        def member(env: Mapping[str, Any]) -> list[Any]:
            out: list[Any] = []
            for item in base(env):
                if type(item) is dict:
                    out += _collection(item.get(name))
                elif not isinstance(item, str | int | float | bool):
                    raise Fallback
            return out

        return member
    if call.get("type") == "FunctionInvocation" and len(children) == 1:
        functn = _children(children[0])
        if functn and functn[0].get("type") == "Identifier":
            name = str(functn[0].get("text"))
            if len(functn) == 1:
                return _function(name, base, [])
            if len(functn) == 2 and functn[1].get("type") == "ParamList":
                return _function(name, base, [_compile(p) for p in _children(functn[1])])
    raise Fallback


def _function_name(call: Node) -> str:
    """The name of the function a FunctionInvocation calls ('' when it is not plain)."""
    functn = _children(_children(call)[0]) if _children(call) else []
    return str(functn[0].get("text")) if functn and functn[0].get("type") == "Identifier" else ""


def _function(name: str, base: Run, params: list[Run]) -> Run:
    if params:
        return _function_of(name, base, params)
    if base is _no_input:
        raise Fallback
    if name == "exists":
        return lambda env: [bool(base(env))]
    if name == "empty":
        return lambda env: [not base(env)]
    if name == "not":

        def negate(env: Mapping[str, Any]) -> list[Any]:
            truth = _truth(base(env))
            return [] if truth is None else [not truth]

        return negate
    if name == "toString":
        return _to_string(base)
    raise Fallback


def _to_string(base: Run) -> Run:
    def run(env: Mapping[str, Any]) -> list[Any]:
        items = base(env)
        if not items:
            return []
        if len(items) != 1:
            raise Fallback
        item = items[0]
        kind = type(item)
        if kind is str:
            return [item]
        if kind is int or (kind is Decimal and item.is_finite()):
            return [str(item)]
        if kind is float:
            text = str(item)
            if "e" not in text and "n" not in text:  # not 1e-05, inf, nan
                return [text]
        raise Fallback  # booleans, exponents, anything else: fhirpathpy's own rendering

    return run


def _function_of(name: str, base: Run, params: list[Run]) -> Run:
    """The functions with parameters the fast evaluator knows: iif, select, join."""
    if name == "iif" and base is _no_input and len(params) in (2, 3):
        criterion, then = params[0], params[1]
        otherwise = params[2] if len(params) == 3 else None

        def iif(env: Mapping[str, Any]) -> list[Any]:
            # An empty criterion is not true: the otherwise branch, as fhirpathpy reads it.
            if _truth(criterion(env)):
                return then(env)
            return otherwise(env) if otherwise is not None else []

        return iif
    if base is _no_input:
        raise Fallback
    if name == "select" and len(params) == 1:
        projection = params[0]

        def select(env: Mapping[str, Any]) -> list[Any]:
            out: list[Any] = []
            items = base(env)
            if items:
                scoped = dict(env)
                for item in items:
                    scoped[_THIS] = item
                    out += projection(scoped)
            return out

        return select
    if name == "join" and len(params) == 1:
        separator = params[0]

        def join(env: Mapping[str, Any]) -> list[Any]:
            glue = separator(env)
            if len(glue) != 1 or type(glue[0]) is not str:
                raise Fallback  # fhirpathpy refuses it, even on an empty input
            items = base(env)
            if not items:
                return []
            if any(type(item) is not str for item in items):
                raise Fallback
            return [glue[0].join(items)]

        return join
    raise Fallback


def _logic(kind: str, left: Run, right: Run) -> Run:
    conjunction = kind == "AndExpression"

    def run(env: Mapping[str, Any]) -> list[Any]:
        a, b = _truth(left(env)), _truth(right(env))
        if conjunction:
            if a is False or b is False:
                return [False]
            return [True] if a and b else []
        if a is True or b is True:
            return [True]
        return [False] if a is False and b is False else []

    return run


_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
    "<=": operator.le,
    ">=": operator.ge,
}


def _union(left: Run, right: Run) -> Run:
    """`|`: both collections, in order, each string once (other items leave the subset)."""

    def run(env: Mapping[str, Any]) -> list[Any]:
        found: list[Any] = []
        for item in left(env) + right(env):
            if type(item) is not str:
                raise Fallback
            if item not in found:
                found.append(item)
        return found

    return run


def _concatenate(left: Run, right: Run) -> Run:
    """`&`: strings joined, an empty operand read as the empty string."""

    def text(items: list[Any]) -> str:
        if not items:
            return ""
        if len(items) != 1 or type(items[0]) is not str:
            raise Fallback  # fhirpathpy refuses a list or a non-string
        return str(items[0])

    return lambda env: [text(left(env)) + text(right(env))]


def _binary(op: str, left: Run, right: Run) -> Run:
    if op == "&":
        return _concatenate(left, right)
    if op not in _COMPARE and op not in ("+", "-"):
        raise Fallback

    def run(env: Mapping[str, Any]) -> list[Any]:
        a_items, b_items = left(env), right(env)
        if not a_items or not b_items:
            return []
        a, b = _scalar(a_items), _scalar(b_items)
        numbers = all(type(x) in (int, float) for x in (a, b))
        if not numbers and not (type(a) is type(b) and type(a) in (str, bool)):
            raise Fallback
        if op in _COMPARE:
            if type(a) is bool and op not in ("=", "!="):
                raise Fallback
            return [_COMPARE[op](a, b)]
        if numbers and op in ("+", "-"):
            if type(a) is int and type(b) is int:
                return [a + b if op == "+" else a - b]
            # FHIRPath decimals are exact, as fhirpathpy computes them: 0.1 + 0.2 = 0.3
            x, y = Decimal(str(a)), Decimal(str(b))
            return [x + y if op == "+" else x - y]
        if op == "+" and type(a) is str:
            return [a + b]
        raise Fallback

    return run
