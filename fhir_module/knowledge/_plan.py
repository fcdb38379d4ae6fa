"""PlanDefinition actions compiled into rules the engine can run.

Every condition, template and dynamic value may read the engine variables of _variables.py
and the facts its module's Library declares (and nothing else); each rule records the
variables it reads, so that the loader refuses a declared fact no rule reads.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from contextlib import suppress
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from ..fhirpath import Compiled, check_expression, compile_expression, evaluate
from ._cpg import check_text_values
from ._variables import VARIABLES

INDICATORS = {"routine": "info", "urgent": "warning", "stat": "critical", "asap": "warning"}
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)
#: a FHIRPath string literal, or a %variable (plain or `delimited`)
_TOKENS = re.compile(r"'(?:[^'\\]|\\.)*'|%([A-Za-z_][A-Za-z0-9_]*|`[^`]*`)")


def variables_read(expression: str) -> frozenset[str]:
    """The %variables an expression reads (names inside string literals are text)."""
    return frozenset(
        m.group(1).strip("`") for m in _TOKENS.finditer(expression) if m.group(1) is not None
    )


def render_value(values: list[Any]) -> str:
    """Text of a FHIRPath result: numbers without trailing zeros, lists joined by ', '."""
    return ", ".join(_one(v) for v in values)


def _one(value: Any) -> str:
    kind = type(value)
    if kind is str:
        return str(value)
    if kind is int and -(10**15) < value < 10**15:
        return str(value)  # a whole number shows as itself
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | Decimal | int):
        number = Decimal(str(value))
        if not number.is_finite():
            return str(value)
        # A number too long to show in thousandths is shown whole.
        with suppress(InvalidOperation):
            number = number.quantize(Decimal("0.001"))
        return f"{number.normalize():f}"
    return str(value)


@dataclass(frozen=True)
class Template:
    """Text with {{ FHIRPath }} placeholders, compiled once."""

    parts: tuple[str | Compiled, ...]

    @classmethod
    def compile(cls, text: str, names: Collection[str] = VARIABLES) -> Template:
        parts: list[str | Compiled] = []
        last = 0
        for match in _PLACEHOLDER.finditer(text):
            parts.append(text[last : match.start()])
            expression = match.group(1).strip()
            problem = unknown_variables(expression, names)
            if problem:
                raise ValueError(f"{{{{{expression}}}}}: {problem}")
            parts.append(compile_expression(expression, names))
            last = match.end()
        parts.append(text[last:])
        return cls(tuple(p for p in parts if p != ""))

    @property
    def reads(self) -> frozenset[str]:
        """The %variables its placeholders read."""
        return frozenset().union(
            *(variables_read(p.text) for p in self.parts if not isinstance(p, str))
        )

    def render(self, env: Mapping[str, Any]) -> str:
        out = []
        for part in self.parts:
            if type(part) is str:
                out.append(part)
            else:
                values = evaluate(part, env)  # type: ignore[arg-type]
                out.append(
                    values[0]
                    if len(values) == 1 and type(values[0]) is str
                    else render_value(values)
                )
        return "".join(out)


#: the child action types the engine builds into suggestions: the dynamicValue paths each
#: takes, and those it needs. Any other type or path is refused at load, never dropped. The
#: engine's builders (engine/_evaluate.py, SUGGESTION_BUILDERS) are keyed by the same types,
#: and the engine cannot be imported with the two out of step.
SUGGESTION_PATHS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "remove": (frozenset({"resource"}), frozenset()),
    "update": (frozenset({"dailyDoseLimit"}), frozenset({"dailyDoseLimit"})),
}


@dataclass(frozen=True)
class Suggestion:
    """A child action: a one-click change the card offers."""

    label: Template
    action_type: str  # a key of SUGGESTION_PATHS
    values: tuple[tuple[str, Compiled], ...]  # dynamicValue path -> expression


@dataclass(frozen=True)
class Link:
    label: str
    url: str


@dataclass(frozen=True)
class Rule:
    """One PlanDefinition action."""

    rule_id: str
    rule_system: str
    position: int
    indicator: str
    hooks: frozenset[str]
    condition: Compiled
    summary: Template
    detail: Template
    citations: tuple[str, ...]
    links: tuple[Link, ...]
    suggestions: tuple[Suggestion, ...]
    selection_behavior: str | None
    #: every %variable its condition, texts and dynamic values read
    reads: frozenset[str] = frozenset()

    def applies(self, env: Mapping[str, Any]) -> bool:
        return evaluate(self.condition, env) == [True]


def compile_action(
    action: Mapping[str, Any], position: int, names: Collection[str] = VARIABLES
) -> Rule:
    """A Rule from a PlanDefinition action, its expressions allowed to read `names`; raises
    ValueError naming the element on failure."""
    coding = action["code"][0]["coding"][0]
    condition = action["condition"][0]["expression"]
    suggestions = []
    for j, child in enumerate(action.get("action") or []):
        kind = child["type"]["coding"][0]["code"]
        paths = {dv.get("path") for dv in child.get("dynamicValue") or []}
        if kind not in SUGGESTION_PATHS:
            raise ValueError(
                f"action[{j}].type: {kind!r} suggestions are not built by the engine "
                f"(it builds {', '.join(sorted(SUGGESTION_PATHS))})"
            )
        allowed, required = SUGGESTION_PATHS[kind]
        if not paths <= allowed or not required <= paths:
            raise ValueError(
                f"action[{j}].dynamicValue: a {kind!r} suggestion takes the paths "
                f"{', '.join(sorted(allowed)) or 'none'} ({', '.join(sorted(required)) or 'none'} "
                f"required), not {', '.join(sorted(str(p) for p in paths)) or 'none'}"
            )
        values = tuple(
            (
                dv["path"],
                _expr(dv["expression"]["expression"], f"action[{j}].dynamicValue", names),
            )
            for dv in child.get("dynamicValue") or []
        )
        suggestions.append(Suggestion(Template.compile(child["title"], names), kind, values))
    rule = Rule(
        rule_id=coding["code"],
        rule_system=coding["system"],
        position=position,
        indicator=INDICATORS[action["priority"]],
        hooks=frozenset(t["name"] for t in action["trigger"] if t.get("type") == "named-event"),
        condition=_expr(condition["expression"], "condition[0].expression.expression", names),
        summary=Template.compile(action["title"], names),
        detail=Template.compile(action["description"], names),
        citations=tuple(
            d["citation"] for d in action.get("documentation") or [] if d.get("citation")
        ),
        links=tuple(
            Link(d.get("display") or d.get("label") or d["url"], d["url"])
            for d in action.get("documentation") or []
            if d.get("url")
        ),
        suggestions=tuple(suggestions),
        selection_behavior=action.get("selectionBehavior"),
    )
    # The same texts for a standard engine, checked once the templates are known to compile
    # (and not kept: the engine renders the templates).
    for text in check_text_values(action):
        _check(text, "dynamicValue.expression", names)
    reads = variables_read(condition["expression"]).union(
        rule.summary.reads,
        rule.detail.reads,
        *(s.label.reads for s in rule.suggestions),
        *(variables_read(e.text) for s in rule.suggestions for _, e in s.values),
    )
    return replace(rule, reads=reads)


def unknown_variables(text: str, names: Collection[str]) -> str:
    """'' when an expression reads only `names`, else the problem in words."""
    unknown = sorted(variables_read(text) - set(names))
    if not unknown:
        return ""
    return (
        f"reads {', '.join('%' + n for n in unknown)}, neither an engine variable nor a fact "
        "the module's Library declares"
    )


def _expr(text: str, where: str, names: Collection[str]) -> Compiled:
    problem = unknown_variables(text, names)
    if problem:
        raise ValueError(f"{where}: {problem}")
    try:
        return compile_expression(text, names)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


def _check(text: str, where: str, names: Collection[str]) -> None:
    """The checks of _expr, for a text that is not kept."""
    problem = unknown_variables(text, names)
    if problem:
        raise ValueError(f"{where}: {problem}")
    try:
        check_expression(text, names)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
