"""One order's medication, product and route, resolved once and shared by its instructions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..knowledge import EMPTY, Named, named_medication
from ._protocol import DoseKnowledge, Product
from ._strength import Strength, strength_for

_UNSET: Any = object()


class OrderContext:
    """The parts of a MedicationRequest every dosage instruction needs, looked up lazily."""

    __slots__ = (
        "order",
        "knowledge",
        "concept",
        "medication",
        "named",
        "notes",
        "_product",
        "_names",
        "_strengths",
    )

    def __init__(
        self, order: dict[str, Any], knowledge: DoseKnowledge, medication: Mapping[str, Any] | None
    ) -> None:
        self.order = order
        self.knowledge = knowledge
        self._product: Any = _UNSET
        self._names: list[str] | None = None
        self._strengths: dict[str, Strength] = {}
        concept = order.get("medicationCodeableConcept")
        if medication is None and type(concept) is dict and "medicationReference" not in order:
            # The usual order, a code and nothing to resolve: what named_medication would say,
            # without building it (it is built if the names are asked for). Kept for the
            # README's "same order again and again" dose goal (at most 1x json.loads):
            # benchmarks/bench_dose.py, medians of 5 runs, 0.88x with it, 1.16x without.
            self.named: Named | None = None
            self.notes: list[str] = []
            self.medication: dict[str, Any] | None = None
            self.concept: dict[str, Any] | None = concept
            return
        # The one resolver of fhir_module._medication: the engine resolved `medication` with
        # it (in the call's Bundles); contained '#id' Medications are found here the same way.
        named = self.named = named_medication(order, EMPTY, medication)
        self.notes = list(named.notes)
        self.medication = named.medication
        concept = named.concept
        if concept is None and self.medication is not None:
            code = self.medication.get("code")
            concept = code if type(code) is dict else None
        self.concept = concept

    def product(self) -> Product | None:
        """The knowledge's product for the order's code (or its Medication's), if any."""
        if self._product is _UNSET:
            product = None
            if self.concept is not None:
                product = self.knowledge.product_for(self.concept)
            if product is None and self.medication is not None:
                code = self.medication.get("code")
                if type(code) is dict and code is not self.concept:
                    product = self.knowledge.product_for(code)
            self._product = product
        product_found: Product | None = self._product
        return product_found

    def product_doubt(self) -> str | None:
        """Why the order's code (or its Medication's) may be several products, if it may."""
        doubt = None
        if self.concept is not None:
            doubt = self.knowledge.product_doubt(self.concept)
        if doubt is None and self.medication is not None:
            code = self.medication.get("code")
            if type(code) is dict and code is not self.concept:
                doubt = self.knowledge.product_doubt(code)
        return doubt

    def names(self) -> list[str]:
        """Every human-readable name of the medication: texts, displays, the reference's
        display, the ingredients'."""
        if self._names is None:
            if self.named is None:
                self.named = named_medication(self.order)
            self._names = self.named.names()
        return self._names

    def strength(self, per: str) -> Strength:
        """Strength per '{tbl}' or 'mL'; raises UnreadableDose when none is known."""
        found = self._strengths.get(per)
        if found is None:
            found = self._strengths[per] = strength_for(per, self)
        return found

    def inferred_route(self) -> tuple[str, str]:
        """The route the product, dose form or name implies, with words saying so."""
        product = self.product()
        if product is not None and type(product.route) is str:
            return product.route, f"route not stated: {product.route} from the product"
        form = self.medication.get("form") if self.medication is not None else None
        if type(form) is dict:
            route = self.knowledge.route_for_form(form)
            if route is not None:
                return route, f"route not stated: {route} from the Medication's dose form"
        # Words in the name that imply a route (the knowledge's name words), only for an
        # order that states no route: a stated route is never replaced.
        for name in self.names():
            for route, words in self.knowledge.route_name_words:
                if words.search(name):
                    return route, f"route not stated: {route} from the name '{name[:80]}'"
        return "unknown", "route not stated and not implied by the product, form or name"
