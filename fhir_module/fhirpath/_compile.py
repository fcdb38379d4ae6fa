"""FHIRPath compiled once per process, with strict syntax checking.

fhirpathpy's own parser recovers silently from syntax errors, so an expression
with a typo would load and then never fire. This module parses with an error
listener that raises, and dry-runs each expression against the documented
variables (all empty), which catches unknown functions and variables at load.

`compiled(text)` is the one compile: it parses the text once (the strict parse gives the
tree fhirpathpy runs and the fast subset compiles) and is cached by the expression text,
so the rule conditions, card texts and profile invariants of every module share one
compiled expression per distinct text. Only successes are cached: an expression that does
not parse raises again each time, for its caller to name its own file.

The common shapes run on the fast subset (`_fast`); fhirpathpy runs the rest.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Any

from antlr4 import CommonTokenStream, InputStream, Token
from antlr4.error.ErrorListener import ErrorListener
from antlr4.tree.Tree import ParseTreeWalker
from fhirpathpy import apply_parsed_path
from fhirpathpy.engine.nodes import ResourceNode
from fhirpathpy.parser.ASTPathListener import ASTPathListener
from fhirpathpy.parser.generated.FHIRPathLexer import FHIRPathLexer
from fhirpathpy.parser.generated.FHIRPathParser import FHIRPathParser

from ..errors import FhirModuleError
from ._fast import Fallback, compile_fast

# fhirpathpy ships no type hints: its runner, its typed nodes and its tree builder
_run: Callable[..., Any] = apply_parsed_path
_node: Callable[[Any, str], Any] = ResourceNode.create_node
_Listener: Callable[[], Any] = ASTPathListener


class Compiled:
    """A compiled expression, called as fhirpathpy's are: ``compiled(resource, variables)``."""

    __slots__ = ("text", "_tree", "_fast")

    def __init__(self, text: str, tree: Mapping[str, Any] | None = None) -> None:
        self.text = text
        self._tree = _parse(text) if tree is None else tree
        self._fast = compile_fast(self._tree)

    def __call__(self, resource: Any, variables: Mapping[str, Any] | None = None) -> list[Any]:
        if self._fast is not None and resource == {} and variables is not None:
            try:
                return self._fast(variables)
            except Fallback:
                pass  # values the fast evaluator leaves to fhirpathpy
        return self.slow(variables or {}, resource)

    def slow(self, variables: Mapping[str, Any], resource: Any = None) -> list[Any]:
        """fhirpathpy's own result, for checking the fast evaluator against it."""
        result: list[Any] = _run({} if resource is None else resource, self._tree, variables)
        return result

    def typed(
        self,
        resource: Any,
        model: Mapping[str, Any],
        base: str | None = None,
        *,
        raw: bool = False,
    ) -> list[Any]:
        """fhirpathpy's result on a resource with FHIR's types known from `model` (e.g. R4);
        `base` types the resource as that element (e.g. 'Extension'), as navigation from
        its resource would; `raw` keeps fhirpathpy's typed nodes in the result."""
        root = resource if base is None else _node(resource, base)  # a typed node stays so
        options = {"returnRawData": True} if raw else None
        result: list[Any] = _run(root, self._tree, {}, model, options)
        return result

    @property
    def tree(self) -> Mapping[str, Any]:
        """The parse tree fhirpathpy runs (not to be changed)."""
        return self._tree

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


#: the tokens that hold free text, as FHIRPath's lexer reads them: a string literal (its
#: escapes those of the grammar's ESC: a backslash before one of `'\/fnrt, or u and four
#: hex digits), a delimited identifier, a comment; a quote that starts no valid literal
#: matches alone
_TEXT_TOKENS = re.compile(
    r"'((?:[^'\\]|\\[`'\\/fnrt]|\\u[0-9a-fA-F]{4})*)'|`(?:[^`\\]|\\.)*`|/\*.*?\*/|//[^\r\n]*|'",
    re.DOTALL,
)
#: what stands for the n-th string literal of an expression in its shape
_MARK = "\x01"


def _shape(expression: str) -> tuple[str, list[str]] | None:
    """The expression with its k-th string literal replaced by a placeholder, and the
    literals; None when it cannot be told apart so (a stray quote, the mark itself)."""
    if _MARK in expression:
        return None
    literals: list[str] = []
    stray = False

    def mark(match: re.Match[str]) -> str:
        nonlocal stray
        token = match.group(0)
        if not token.startswith("'"):
            return token  # an identifier or a comment: kept as it is
        if match.group(1) is None:
            stray = True
            return token
        literals.append(token)
        return f"'{_MARK}{len(literals) - 1}{_MARK}'"

    shape = _TEXT_TOKENS.sub(mark, expression)
    return None if stray else (shape, literals)


@lru_cache(maxsize=1024)
def _shape_tree(shape: str) -> str:
    """The grammar's tree of a shape, as JSON text; the texts of many card templates share
    one."""
    return json.dumps(_grammar_tree(shape))


#: a placeholder as JSON writes it, inside the text of a shape's tree
_PLACEHOLDER_JSON = re.compile(r"'\\u0001(\d+)\\u0001'")


def _filled(tree: str, literals: list[str]) -> Mapping[str, Any]:
    """A shape's tree with its literals put back where their placeholders are."""
    text = _PLACEHOLDER_JSON.sub(lambda m: json.dumps(literals[int(m.group(1))])[1:-1], tree)
    filled: Mapping[str, Any] = json.loads(text)
    return filled


#: a variable and its members, `%name.member.member`, with no white space
_VARIABLE_PATH = re.compile(r"%[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*")
#: the grammar's words (and, true, day, in...), which are no plain identifier
_WORDS = frozenset(
    str(n).strip("'") for n in FHIRPathLexer.literalNames if str(n).strip("'").isalpha()
)


def _variable_path(expression: str) -> Mapping[str, Any] | None:
    """The grammar's tree of a variable path (most card-text placeholders are one), built
    without its parser; None for any other text."""
    if not _VARIABLE_PATH.fullmatch(expression):
        return None
    names = expression[1:].split(".")
    if _WORDS.intersection(names):
        return None

    def identifier(name: str) -> dict[str, Any]:
        return {"type": "Identifier", "terminalNodeText": [name], "text": name}

    constant: dict[str, Any] = {
        "type": "ExternalConstant",
        "terminalNodeText": ["%"],
        "children": [identifier(names[0])],
    }
    node: dict[str, Any] = {
        "type": "TermExpression",
        "terminalNodeText": [],
        "text": f"%{names[0]}",
        "children": [
            {"type": "ExternalConstantTerm", "terminalNodeText": [], "children": [constant]}
        ],
    }
    text = node["text"]
    for name in names[1:]:
        text = f"{text}.{name}"
        member = {
            "type": "MemberInvocation",
            "terminalNodeText": [],
            "children": [identifier(name)],
        }
        node = {
            "type": "InvocationExpression",
            "terminalNodeText": ["."],
            "text": text,
            "children": [node, member],
        }
    return {"children": [node]}


def _parse(expression: str) -> Mapping[str, Any]:
    """The parse tree fhirpathpy runs, from one strict parse; FhirPathError unless the
    whole expression parses.

    The grammar's tree of an expression is the tree of its shape (its string literals
    replaced by placeholders) with the literals put back: expressions that differ only in
    their texts, such as the card texts of many drugs, share one run of the parser. An
    expression whose shape does not parse is parsed itself, for the error to speak of it.
    """
    if not isinstance(expression, str):
        raise FhirPathError(f"an expression must be text, not {type(expression).__name__}")
    path = _variable_path(expression)
    if path is not None:
        return path
    shaped = _shape(expression)
    if shaped is None:
        return _grammar_tree(expression)
    shape, literals = shaped
    try:
        tree = _shape_tree(shape)
    except FhirPathError:
        return _grammar_tree(expression)  # raises, naming the column in the expression
    return _filled(tree, literals)


def _grammar_tree(expression: str) -> Mapping[str, Any]:
    """The parse tree from FHIRPath's grammar, with errors raised, not recovered from."""
    lexer = FHIRPathLexer(InputStream(expression))
    lexer.removeErrorListeners()
    lexer.addErrorListener(_Raise())
    stream = CommonTokenStream(lexer)
    parser = FHIRPathParser(stream)
    parser.buildParseTrees = True
    parser.removeErrorListeners()
    parser.addErrorListener(_Raise())
    tree = parser.expression()
    if stream.LA(1) != Token.EOF:
        raise FhirPathError(f"unexpected text after column {stream.LT(1).column}")
    listener = _Listener()
    ParseTreeWalker().walk(listener, tree)
    ast: Mapping[str, Any] = listener.parentStack[0]
    return ast


#: Distinct expression texts kept compiled. The key is the text alone, as a compile depends
#: on nothing else, so every module using an expression shares its entry; the bound keeps a
#: process that loads knowledge again and again (validate, package, a site editing its
#: rules) from growing without limit. A formulary of a thousand drugs made from one
#: template uses a few hundred; past the bound the least recently used is compiled again
#: when next met, which costs time only.
CACHED_EXPRESSIONS = 4096


@lru_cache(maxsize=CACHED_EXPRESSIONS)
def compiled(expression: str) -> Compiled:
    """The expression compiled (strictly parsed once, fast subset, fhirpathpy's tree), shared
    by every caller in the process; FhirPathError, never cached, unless it parses."""
    return Compiled(expression, _parse(expression))


def check_syntax(expression: str) -> None:
    """Raise FhirPathError unless the whole expression parses."""
    compiled(expression)


@lru_cache(maxsize=CACHED_EXPRESSIONS)
def _dry_run(expression: str, variables: frozenset[str]) -> None:
    """Run the expression once with every variable empty; only a success is cached."""
    try:
        compiled(expression)({}, {name: [] for name in variables})
    except Exception as exc:  # fhirpathpy raises bare Exception for unknown functions
        raise FhirPathError(str(exc)) from None


#: (shape, variables) of the expressions whose dry run the fast evaluator completed: the
#: fast evaluator reads a string literal only as some text, so another expression of that
#: shape (the same but for its literals) completes it as well
_FAST_SHAPES: dict[tuple[str, frozenset[str]], None] = {}


def check_expression(expression: str, variables: Iterable[str]) -> None:
    """The checks of compile_expression, for an expression that is not kept (a text for
    other engines): nothing of it stays cached but the tree of its shape, which texts
    alike but for their literals share, and whether the fast evaluator dry-ran that shape
    (then a text of the shape is neither compiled nor run again)."""
    names = frozenset(variables)
    shaped = _shape(expression) if isinstance(expression, str) else None
    key = None if shaped is None else (shaped[0], names)
    if key is not None and key in _FAST_SHAPES:
        return
    found = Compiled(expression, _parse(expression))
    env: dict[str, Any] = {name: [] for name in names}
    try:
        if found._fast is None:
            found.slow(env, {})
            return
        try:
            found._fast(env)
        except Fallback:
            found.slow(env, {})
            return
    except Exception as exc:  # fhirpathpy raises bare Exception for unknown functions
        raise FhirPathError(str(exc)) from None
    if key is not None:
        if len(_FAST_SHAPES) >= CACHED_EXPRESSIONS:
            _FAST_SHAPES.pop(next(iter(_FAST_SHAPES)))  # the oldest shape
        _FAST_SHAPES[key] = None


def compile_expression(expression: str, variables: Iterable[str]) -> Compiled:
    """Compile an expression, checked for syntax and dry-run with empty variables."""
    found = compiled(expression)
    _dry_run(expression, frozenset(variables))
    return found


def evaluate(compiled: Compiled, env: Mapping[str, Any]) -> list[Any]:
    """Evaluate against the environment (the resource context is empty)."""
    return compiled({}, env) if compiled.fast else compiled({}, dict(env))
