"""Findings: what a rule concluded about orders, immutable, ready to become cards."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..knowledge import Drug, Rule


@dataclass(frozen=True)
class Action:
    """One change a suggestion makes: CDS Hooks action type and its resource or reference."""

    type: str  # 'delete' | 'update' | 'create'
    description: str
    resource: Mapping[str, Any] | None = None
    resource_id: str | None = None


@dataclass(frozen=True)
class Offer:
    """A suggestion: a label and the actions accepting it carries out."""

    label: str
    actions: tuple[Action, ...]


@dataclass(frozen=True)
class Finding:
    """A rule that fired, with its rendered text and suggestions."""

    rule: Rule
    drug: Drug
    summary: str
    detail: str
    offers: tuple[Offer, ...] = ()
    indicator: str | None = None  # overrides the rule's own (used for checks that failed)

    @property
    def key(self) -> tuple[int, str, str]:
        return (self.rule.position, self.summary, self.detail)

    @property
    def level(self) -> str:
        return self.indicator or self.rule.indicator


def merge(findings: list[Finding]) -> list[Finding]:
    """One finding per rule and text: orders judged together give one card, suggestions join."""
    merged: dict[tuple[int, str, str], Finding] = {}
    for finding in findings:
        seen = merged.get(finding.key)
        if seen is None:
            merged[finding.key] = finding
            continue
        offers = {o.label: o for o in seen.offers}
        for offer in finding.offers:
            if offer.label in offers:
                actions = offers[offer.label].actions
                # Identity first (an object is always `in` a tuple holding it): orders judged
                # together share their actions, and comparing resources one by one is slow.
                present = {id(a) for a in actions}
                extra = tuple(a for a in offer.actions if id(a) not in present and a not in actions)
                offers[offer.label] = Offer(offer.label, actions + extra)
            else:
                offers[offer.label] = offer
        merged[finding.key] = replace(seen, offers=tuple(offers.values()))
    return list(merged.values())
