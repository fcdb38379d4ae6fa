"""One order's medication, product and route, resolved once and shared by its instructions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._protocol import DoseKnowledge, Product
from ._strength import Strength, strength_for

_ORAL_WORDS = re.compile(r"\b(?:oral|by mouth|tab(?:let)?s?)\b", re.IGNORECASE)
_INTRATHECAL_WORDS = re.compile(r"\bintrathecal\b", re.IGNORECASE)
_UNSET: Any = object()


class OrderContext:
    """The parts of a MedicationRequest every dosage instruction needs, looked up lazily."""

    __slots__ = ("order", "knowledge", "concept", "medication", "notes", "_product", "_names",
                 "_strengths")

    def __init__(self, order: dict[str, Any], knowledge: DoseKnowledge,
                 medication: Mapping[str, Any] | None) -> None:
        self.order = order
        self.knowledge = knowledge
        self.notes: list[str] = []
        self._product: Any = _UNSET
        self._names: list[str] | None = None
        self._strengths: dict[str, Strength] = {}
        concept = order.get("medicationCodeableConcept")
        reference = order.get("medicationReference")
        codeable = order.get("medication")
        if type(codeable) is dict:
            # R5 CodeableReference, seen in feeds that mix versions.
            concept = concept if concept is not None else codeable.get("concept")
            reference = reference if reference is not None else codeable.get("reference")
        self.concept: dict[str, Any] | None = concept if type(concept) is dict else None
        self.medication: dict[str, Any] | None = \
            None if reference is None and medication is None else \
            self._resolve(reference, medication)
        if self.concept is None and self.medication is not None:
            code = self.medication.get("code")
            self.concept = code if type(code) is dict else None

    def _resolve(self, reference: Any, given: Mapping[str, Any] | None) -> dict[str, Any] | None:
        target = reference.get("reference") if type(reference) is dict else None
        if type(target) is str and target.startswith("#"):
            contained = self.order.get("contained")
            if type(contained) is list:
                for resource in contained:
                    if (type(resource) is dict and resource.get("id") == target[1:]
                            and resource.get("resourceType") == "Medication"):
                        return resource
            self.notes.append(f"the contained Medication {target[:40]!r} was not found")
        if given is not None and isinstance(given, Mapping):
            return given if type(given) is dict else dict(given)
        return None

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

    def names(self) -> list[str]:
        """Every human-readable name of the medication: texts, displays, the reference's display."""
        if self._names is None:
            names: list[str] = []
            concepts = [self.concept]
            if self.medication is not None:
                concepts.append(self.medication.get("code"))
            for concept in concepts:
                if type(concept) is dict:
                    _concept_names(concept, names)
            reference = self.order.get("medicationReference")
            if type(reference) is dict and type(reference.get("display")) is str:
                names.append(reference["display"])
            self._names = names
        return self._names

    def strength(self, per: str) -> Strength:
        """Strength per '{tbl}' or 'mL'; raises Unknown when none is known."""
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
        for name in self.names():
            if _INTRATHECAL_WORDS.search(name):
                return "intrathecal", f"route not stated: intrathecal from the name '{name[:80]}'"
            if _ORAL_WORDS.search(name):
                return "oral", f"route not stated: oral from the name '{name[:80]}'"
        return "unknown", "route not stated and not implied by the product, form or name"


def _concept_names(concept: dict[str, Any], names: list[str]) -> None:
    text = concept.get("text")
    if type(text) is str:
        names.append(text)
    codings = concept.get("coding")
    if type(codings) is list:
        for coding in codings:
            if type(coding) is dict and type(coding.get("display")) is str:
                names.append(coding["display"])
