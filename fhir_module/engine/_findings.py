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
    def key(self) -> tuple[str, int, str, str]:
        """What makes two findings one card: the drug's PlanDefinition, the rule, the texts."""
        return (self.drug.plan_url, self.rule.position, self.summary, self.detail)

    @property
    def level(self) -> str:
        return self.indicator or self.rule.indicator


def _reference(action: Action) -> tuple[str, str, str | None]:
    # What tells two actions without a resource apart (their other fields).
    return (action.type, action.description, action.resource_id)


class _Held:
    """The actions of one suggestion so far, with what finds one again at once."""

    def __init__(self, actions: tuple[Action, ...]) -> None:
        self.actions = list(actions)
        self.ids = {id(a) for a in actions}
        self.deletes = {_reference(a) for a in actions if a.resource is None}

    def join(self, more: tuple[Action, ...]) -> None:
        # Identity first (an object is always `in` a list holding it): orders judged
        # together share their actions, and comparing resources one by one is slow. A
        # delete is its reference: looked up, not compared with every action held.
        extra = [
            a
            for a in more
            if id(a) not in self.ids
            and (_reference(a) not in self.deletes if a.resource is None else a not in self.actions)
        ]
        self.actions += extra
        self.ids.update(id(a) for a in extra)
        self.deletes.update(_reference(a) for a in extra if a.resource is None)


class Merger:
    """Findings merged as they come (see `merge`): a group's orders render the same long
    texts, and only the first copy is kept, not one per order until the end."""

    def __init__(self) -> None:
        self._first: dict[tuple[str, int, str, str], Finding] = {}
        self._offers: dict[tuple[str, int, str, str], dict[str, _Held]] = {}

    def add(self, finding: Finding) -> None:
        key = finding.key
        offers = self._offers.get(key)
        if offers is None:
            self._first[key] = finding
            self._offers[key] = {o.label: _Held(o.actions) for o in finding.offers}
            return
        for offer in finding.offers:
            held = offers.get(offer.label)
            if held is None:
                offers[offer.label] = _Held(offer.actions)
            else:
                held.join(offer.actions)

    def findings(self) -> list[Finding]:
        """One finding per rule and text, in the order first seen, suggestions joined."""
        return [
            replace(
                first,
                offers=tuple(
                    Offer(label, tuple(held.actions)) for label, held in self._offers[key].items()
                ),
            )
            for key, first in self._first.items()
        ]


def merge(findings: list[Finding]) -> list[Finding]:
    """One finding per rule and text: orders judged together give one card, suggestions join."""
    merger = Merger()
    for finding in findings:
        merger.add(finding)
    return merger.findings()
