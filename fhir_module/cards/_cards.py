"""Findings -> CDS Hooks 2.0.1 cards.

The mapping follows HL7's CDS Hooks / Clinical Reasoning alignment: action
title -> summary, description -> detail, priority -> indicator, documentation
URLs -> links, child actions -> suggestions, selectionBehavior as is; the rule
id becomes source.topic.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from typing import Any

from ..engine import Action, Finding
from ..knowledge import Drug

SUMMARY_LIMIT = 140
ORDER = {"critical": 0, "warning": 1, "info": 2}


def _summary(text: str, drug: Drug) -> str:
    """The summary in one line of under SUMMARY_LIMIT characters, naming its drug (its
    name put first when the rule's text does not say it)."""
    text = " ".join(text.split())
    if not drug.names_in(text):
        text = f"{_capitalised(drug.name)}: {text}"
    return text if len(text) < SUMMARY_LIMIT else text[: SUMMARY_LIMIT - 2].rstrip() + "…"


def _capitalised(name: str) -> str:
    return name[:1].upper() + name[1:]


def source_label(drug: Drug) -> str:
    """The card's source.label: the drug's PlanDefinition title and version, the drug's
    name put first when the title does not say it."""
    title = drug.plan_title
    if not drug.names_in(title):
        title = f"{_capitalised(drug.name)}: {title}"
    return f"{title} (version {drug.plan_version})"


def _action(action: Action) -> dict[str, Any]:
    out: dict[str, Any] = {"type": action.type, "description": action.description}
    if action.resource is not None:
        out["resource"] = action.resource
    if action.resource_id is not None:
        out["resourceId"] = [action.resource_id]
    return out


def card(finding: Finding) -> dict[str, Any]:
    """One CDS Hooks card for a finding."""
    rule, drug = finding.rule, finding.drug
    body: dict[str, Any] = {
        "uuid": str(uuid.uuid4()),
        "summary": _summary(finding.summary, drug),
        "indicator": finding.level,
        "detail": finding.detail,
        "source": {
            "label": source_label(drug),
            "topic": {
                "system": rule.rule_system,
                "code": rule.rule_id,
                "display": _display(drug, rule.rule_system, rule.rule_id),
            },
        },
    }
    if finding.offers:
        body["suggestions"] = [
            {
                "label": o.label,
                "uuid": str(uuid.uuid4()),
                "actions": [_action(a) for a in o.actions],
            }
            for o in finding.offers
        ]
        body["selectionBehavior"] = rule.selection_behavior or "at-most-one"
    if finding.level in ("warning", "critical") and drug.override_reasons:
        body["overrideReasons"] = [dict(c) for c in drug.override_reasons]
    if rule.links:
        body["links"] = [
            {"label": link.label, "url": link.url, "type": "absolute"} for link in rule.links
        ]
    return body


def _display(drug: Drug, system: str, code: str) -> str:
    return drug.rule_displays.get((system, code), code)


def card_order(finding: Finding) -> tuple[int, int]:
    """The order cards are shown in: most severe first, then the PlanDefinition's order."""
    return ORDER[finding.level], finding.rule.position


def cards(findings: Iterable[Finding]) -> list[dict[str, Any]]:
    """Cards, most severe first, then in the PlanDefinition's order."""
    return [card(f) for f in sorted(findings, key=card_order)]
