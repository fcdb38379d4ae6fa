"""What the orders of one hook call share, worked out once for all of them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from ..facts import (
    AgeRange,
    Dose,
    PatientRecord,
    RecordOrder,
    Sources,
    call_dose,
    dose_summary,
    guideline_view,
    prior_prescriptions,
)
from ..knowledge import Drug, Knowledge, Matches, Pool, named_medication
from ._findings import Action
from ._orders import DrugOrder


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
        requested: Sequence[Mapping[str, Any]] | None = None,
        matches: Matches | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.scope = scope
        matches = matches or knowledge.matches()
        #: the call's one table of daily doses, shared with the fact kinds (Sources); each
        #: drug reads its orders with its own route categories and products
        self.doses: dict[tuple[int, int, int], Dose] = {}
        for o in scope:
            self.dose(o)
        history = [r for r in record.medication_requests if isinstance(r, Mapping)]
        on_record = (pool or Pool()).with_resources([*history, *record.medications])
        in_request = pool or Pool()
        drafted = [d.order for d in drafts] if requested is None else list(requested)
        request_orders = [_resolved(matches, r, in_request) for r in drafted]
        self.sources = Sources(
            knowledge,
            record,
            [_resolved(matches, r, on_record) for r in history],
            request_orders,
            frozenset(o.reference for o in request_orders if o.reference),
            replaced=frozenset(prior_prescriptions(drafted)),
            doses=self.doses,
        )
        patient = record.patient if isinstance(record.patient, Mapping) else None
        self.patient = patient
        self.patient_copy: Any = dict(patient) if patient else []
        self._groups: dict[tuple[int, str], tuple[tuple[DrugOrder, ...], tuple[Dose, ...]]] = {}
        self._orders: dict[tuple[int, str], list[dict[str, Any]]] = {}
        self._summaries: dict[tuple[int, str, str], tuple[Decimal, str, str]] = {}
        self._guidelines: dict[tuple[int, str, AgeRange | None, str], dict[str, Any]] = {}
        self._medications: dict[int, dict[str, Any]] = {}
        self.actions: dict[tuple[Any, ...], tuple[Action, ...]] = {}

    def dose(self, order: DrugOrder) -> Dose:
        """The daily dose of an order in scope, from the call's one table."""
        return call_dose(self.doses, order.drug.terms, order.order, order.medication)

    def group(self, drug: Drug, route: str) -> tuple[tuple[DrugOrder, ...], tuple[Dose, ...]]:
        """The orders in scope of this drug and route (judged together), and their doses."""
        key = (id(drug), route)
        found = self._groups.get(key)
        if found is None:
            group = tuple(o for o in self.scope if o.drug is drug and self.dose(o).route == route)
            found = self._groups[key] = (group, tuple(self.dose(o) for o in group))
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


def _resolved(matches: Matches, order: Mapping[str, Any], pool: Pool) -> RecordOrder:
    """A MedicationRequest with its medication resolved and its drugs recognised (if any)."""
    named = named_medication(order, pool)
    drugs = matches.drugs(named)
    return RecordOrder(order, named, drugs[0] if drugs else None, drugs)
