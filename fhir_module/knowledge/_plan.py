"""PlanDefinition actions compiled into rules the engine can run.

Every condition, template and dynamic value may read the variables of _variables.py
(and nothing else); facts/_registry.py builds every one of them on every evaluation.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from ..fhirpath import Compiled, compile_expression, evaluate
from ._cpg import check_text_values
from ._variables import VARIABLES

INDICATORS = {"routine": "info", "urgent": "warning", "stat": "critical", "asap": "warning"}
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


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
    def compile(cls, text: str) -> Template:
        parts: list[str | Compiled] = []
        last = 0
        for match in _PLACEHOLDER.finditer(text):
            parts.append(text[last : match.start()])
            parts.append(compile_expression(match.group(1).strip(), VARIABLES))
            last = match.end()
        parts.append(text[last:])
        return cls(tuple(p for p in parts if p != ""))

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
#: takes, and those it needs. Any other type or path is refused at load, never dropped.
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

    def applies(self, env: Mapping[str, Any]) -> bool:
        return evaluate(self.condition, env) == [True]


def compile_action(action: Mapping[str, Any], position: int) -> Rule:
    """A Rule from a PlanDefinition action; raises ValueError naming the element on failure."""
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
            (dv["path"], _expr(dv["expression"]["expression"], f"action[{j}].dynamicValue"))
            for dv in child.get("dynamicValue") or []
        )
        suggestions.append(Suggestion(Template.compile(child["title"]), kind, values))
    rule = Rule(
        rule_id=coding["code"],
        rule_system=coding["system"],
        position=position,
        indicator=INDICATORS[action["priority"]],
        hooks=frozenset(t["name"] for t in action["trigger"] if t.get("type") == "named-event"),
        condition=_expr(condition["expression"], "condition[0].expression.expression"),
        summary=Template.compile(action["title"]),
        detail=Template.compile(action["description"]),
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
    # The same texts for a standard engine, checked once the templates are known to compile.
    for text in check_text_values(action):
        _expr(text, "dynamicValue.expression")
    return rule


def _expr(text: str, where: str) -> Compiled:
    try:
        return compile_expression(text, VARIABLES)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
