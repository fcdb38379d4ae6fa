"""What the orders of one hook call share, worked out once for all of them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ..dosing import daily_dose
from ..facts import (
    AgeRange,
    Dose,
    PatientRecord,
    dose_summary,
    guideline_view,
    order_date,
    patient_facts,
)
from ..knowledge import Drug, Knowledge, Pool
from ._findings import Action
from ._orders import DrugOrder, own_drug_orders

INACTIVE = frozenset({"entered-in-error", "cancelled", "draft"})
#: stands for "no full date" where order_date wants a fallback day (compared by identity)
_NO_DATE = date.min


@dataclass(frozen=True)
class Current:
    """The patient's active orders of a drug by one route, their doses and copies (%current),
    and whether any order of the drug was ever intrathecal."""

    orders: list[DrugOrder]
    doses: list[Dose]
    ever_intrathecal: bool
    copies: list[dict[str, Any]]
    #: the latest authoredOn among them that is a full date, and whether any other has an
    #: authoredOn (read as the day of the order judged): the same for every draft order
    latest: date | None = None
    undated: bool = False


class Call:
    """What the orders of one hook call share, worked out once for all of them.

    Everything here is a pure function of the call's data (the orders, the record, the
    knowledge), so reusing it for every order changes no answer, only the time taken:
    with many draft orders, the per-order work used to repeat the per-call work.
    """

    def __init__(
        self,
        knowledge: Knowledge,
        scope: list[DrugOrder],
        drafts: list[DrugOrder],
        record: PatientRecord,
        pool: Pool | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.scope = scope
        self.facts = patient_facts(knowledge, record)
        self.draft_ids = {d.reference for d in drafts if d.reference}
        self.doses = {id(o): daily_dose(o.order, knowledge, o.medication) for o in scope}
        history = [r for r in record.medication_requests if isinstance(r, Mapping)]
        self.history = own_drug_orders(knowledge, history, record.medications, pool)
        patient = record.patient if isinstance(record.patient, Mapping) else None
        self.patient = patient
        self.patient_copy: Any = dict(patient) if patient else []
        self._groups: dict[tuple[int, str], tuple[tuple[DrugOrder, ...], tuple[Dose, ...]]] = {}
        self._orders: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self._summaries: dict[tuple[int, str, str], tuple[Decimal, str, str]] = {}
        self._guidelines: dict[tuple[int, str, AgeRange | None, str], dict[str, Any]] = {}
        self._medications: dict[int, dict[str, Any]] = {}
        self._past_doses: dict[int, Dose] = {}
        self._current: dict[tuple[int, str], Current] = {}
        self.actions: dict[tuple[Any, ...], tuple[Action, ...]] = {}

    def group(self, drug: Drug, route: str) -> tuple[tuple[DrugOrder, ...], tuple[Dose, ...]]:
        """The orders in scope of this drug and route (judged together), and their doses."""
        key = (id(drug), route)
        found = self._groups.get(key)
        if found is None:
            group = tuple(
                o for o in self.scope if o.drug is drug and self.doses[id(o)].route == route
            )
            found = self._groups[key] = (group, tuple(self.doses[id(o)] for o in group))
        return found

    def group_orders(self, drug: Drug, route: str) -> list[dict[str, Any]]:
        """%orders: copies of the group's orders."""
        key = (id(drug), route)
        found = self._orders.get(key)
        if found is None:
            found = self._orders[key] = [dict(o.order) for o in self.group(drug, route)[0]]
        return found

    def summary(self, drug: Drug, route: str, unit: str) -> tuple[Decimal, str, str]:
        """dose_summary of the group's doses."""
        key = (id(drug), route, unit)
        found = self._summaries.get(key)
        if found is None:
            found = self._summaries[key] = dose_summary(self.group(drug, route)[1], unit)
        return found

    def guideline(self, drug: Drug, route: str, age: AgeRange | None, unit: str) -> dict[str, Any]:
        key = (id(drug), route, age, unit)
        found = self._guidelines.get(key)
        if found is None:
            found = self._guidelines[key] = guideline_view(drug, route, age, unit)
        return found

    def medication(self, drug: Drug) -> dict[str, Any]:
        """%medication: a copy of the drug's MedicationKnowledge."""
        found = self._medications.get(id(drug))
        if found is None:
            found = self._medications[id(drug)] = dict(drug.knowledge)
        return found

    def current(self, drug: Drug, route: str) -> Current:
        """The patient's active orders of the drug by this route (drafts of this call aside)."""
        key = (id(drug), route)
        found = self._current.get(key)
        if found is not None:
            return found
        orders, doses, ever_intrathecal = [], [], False
        for past in self.history:
            if past.drug is not drug or past.reference in self.draft_ids:
                continue
            status = str(past.order.get("status"))
            past_dose = self._past_doses.get(id(past))
            if past_dose is None:
                past_dose = self._past_doses[id(past)] = daily_dose(
                    past.order, self.knowledge, past.medication
                )
            if status not in INACTIVE and past_dose.route == "intrathecal":
                ever_intrathecal = True
            if status == "active" and past_dose.route == route:
                orders.append(past)
                doses.append(past_dose)
        latest, undated = None, False
        for active in orders:
            if active.order.get("authoredOn"):
                on = order_date(active.order, _NO_DATE)
                if on is _NO_DATE:
                    undated = True
                elif latest is None or on > latest:
                    latest = on
        found = self._current[key] = Current(
            orders, doses, ever_intrathecal, [dict(c.order) for c in orders], latest, undated
        )
        return found
