"""Running a drug's rules against the draft orders of a hook call."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ..dosing import DailyDose, scaled_order
from ..facts import (
    REGISTRY,
    Dose,
    Inputs,
    PatientRecord,
    age_on,
    in_unit,
    order_date,
    route_text,
    route_unit,
)
from ..facts import Judged as JudgedFacts
from ..fhirpath import evaluate
from ..knowledge import SUGGESTION_PATHS, Knowledge, Matches, Pool, Rule
from ._call import Call
from ._findings import Action, Finding, Merger, Offer
from ._orders import DrugOrder


@dataclass(frozen=True)
class Judged:
    """A draft order with its dose and the orders it is judged together with."""

    item: DrugOrder
    dose: Dose
    group: tuple[DrugOrder, ...]
    group_doses: tuple[Dose, ...]


def evaluate_orders(
    knowledge: Knowledge,
    hook: str,
    scope: list[DrugOrder],
    drafts: list[DrugOrder],
    record: PatientRecord,
    today: date,
    pool: Pool | None = None,
    requested: Sequence[Mapping[str, Any]] | None = None,
    matches: Matches | None = None,
) -> list[Finding]:
    """Findings for the orders in scope; one rule failing yields a 'not completed' finding.

    `requested` is every draft MedicationRequest of the request, of any drug (facts of the
    kind other-orders read them); by default the `drafts` of known drugs. `matches` is the
    call's memo of the drugs orders name (a fresh one by default).
    """
    call = Call(knowledge, scope, drafts, record, pool, requested, matches)
    merger = Merger()
    for item in scope:
        dose = call.dose(item)
        group, group_doses = call.group(item.drug, dose.route)
        judged = Judged(item, dose, group, group_doses)
        env = _environment(call, hook, judged, today)
        for rule in item.drug.rules:
            if hook in rule.hooks:
                for finding in _run(rule, env, judged, call):
                    merger.add(finding)
    return merger.findings()


def _run(rule: Rule, env: dict[str, Any], judged: Judged, call: Call) -> list[Finding]:
    env["citation"] = list(rule.citations[:1])
    try:
        if not rule.applies(env):
            return []
        summary = rule.summary.render(env)
        detail = rule.detail.render(env)
        offers = _offers(rule, env, judged, call, (rule.position, summary, detail))
        return [Finding(rule, judged.item.drug, summary, detail, tuple(offers))]
    except Exception as exc:  # one rule failing must not take the others down
        name = type(exc).__name__
        return [
            Finding(
                rule,
                judged.item.drug,
                f"The {rule.rule_id} check of {judged.item.drug.name} could not be completed",
                f"The check '{rule.rule_id}' failed on this order's data ({name}), so it "
                f"was not applied. Check this order by hand.",
                (),
                "warning",
            )
        ]


def _environment(call: Call, hook: str, judged: Judged, today: date) -> dict[str, Any]:
    """The registry's variables for one judged order, from what the call worked out."""
    item, dose = judged.item, judged.dose
    drug, route = item.drug, dose.route
    unit = route_unit(drug, route)
    on = order_date(item.order, today)
    patient = call.patient
    age = age_on(patient.get("birthDate"), on) if patient else None
    total, arithmetic, assumptions = call.summary(drug, route, unit)
    return REGISTRY.environment(
        Inputs(
            hook=hook,
            orders=call.group_orders(drug, route),
            patient=call.patient_copy,
            medication=call.medication(drug),
            judged=JudgedFacts(
                order=item.order,
                drug=drug,
                route=route,
                route_words=route_text(item.order, route),
                unit=unit,
                on=on,
                age=age,
                dose=dose,
                total=total,
                arithmetic=arithmetic,
                assumptions=assumptions,
                guideline=call.guideline(drug, route, age, unit),
            ),
            sources=call.sources,
        )
    )


def _offers(
    rule: Rule,
    env: dict[str, Any],
    judged: Judged,
    call: Call,
    finding: tuple[int, str, str],
) -> list[Offer]:
    """The rule's suggestions for this order, each built by its action type's builder.

    `call.actions` keeps the actions already built in this call for the same finding (rule,
    summary, detail) of the same group, so that the orders judged together, which all
    suggest the same changes to the same orders, build them once (not once per order of
    the group, which grew with the square of the orders), and the Merger finds them by
    identity; no resource is shared between two cards.
    """
    offers = []
    for suggestion in rule.suggestions:
        values = {path: evaluate(expr, env) for path, expr in suggestion.values}
        label = suggestion.label.render(env)
        build = SUGGESTION_BUILDERS[suggestion.action_type]
        actions = build(values, label, judged, call, finding)
        if actions:
            offers.append(Offer(label, actions))
    return offers


def _remove(
    values: Mapping[str, Any], label: str, judged: Judged, call: Call, finding: tuple[int, str, str]
) -> tuple[Action, ...]:
    """Delete the `resource` orders (by default the orders judged together)."""
    targets = values.get("resource")
    if targets is None:
        targets = [o.order for o in judged.group]
    refs = tuple(
        _reference(target)
        for target in targets
        if isinstance(target, Mapping) and isinstance(target.get("id"), str)
    )
    # Built once per call for the same targets (the group's orders, or the orders of a
    # current-orders fact): every order of a group names them all, and merge() finds
    # them by identity.
    key: tuple[Any, ...] = (*finding, label, "remove", refs)
    built = call.actions.get(key)
    if built is None:
        built = call.actions[key] = tuple(Action("delete", label, resource_id=ref) for ref in refs)
    return built


def _update(
    values: Mapping[str, Any], label: str, judged: Judged, call: Call, finding: tuple[int, str, str]
) -> tuple[Action, ...]:
    """The orders judged together, scaled down to the `dailyDoseLimit` (when above it)."""
    limit = values.get("dailyDoseLimit") or []
    drug, route = judged.item.drug, judged.dose.route
    unit = route_unit(drug, route)
    daily = in_unit(call.summary(drug, route, unit)[0], unit)
    if not (limit and daily and 0 < float(limit[0]) < daily):
        return ()
    factor = Decimal(str(limit[0])) / Decimal(str(daily))
    # The group tuple is the call's own, alive for the whole call.
    key = (*finding, label, id(judged.group), factor)
    built = call.actions.get(key)
    if built is None:
        built = call.actions[key] = tuple(
            Action("update", label, resource=scaled_order(order.order, factor))
            for order, dose in zip(judged.group, judged.group_doses, strict=True)
            if isinstance(dose, DailyDose) and isinstance(order.order.get("id"), str)
        )
    return built


_Builder = Callable[
    [Mapping[str, Any], str, Judged, Call, tuple[int, str, str]], tuple[Action, ...]
]

#: a suggestion's builder by its action type: the types the loader lets a rule hold
#: (knowledge.SUGGESTION_PATHS), each built here, no other
SUGGESTION_BUILDERS: Mapping[str, _Builder] = {"remove": _remove, "update": _update}
if set(SUGGESTION_BUILDERS) != set(SUGGESTION_PATHS):
    raise ValueError(
        f"suggestion types the loader takes ({', '.join(sorted(SUGGESTION_PATHS))}) and the "
        f"engine builds ({', '.join(sorted(SUGGESTION_BUILDERS))}) differ"
    )


def _reference(target: Mapping[str, Any]) -> str:
    return f"{target.get('resourceType', 'MedicationRequest')}/{target['id']}"
