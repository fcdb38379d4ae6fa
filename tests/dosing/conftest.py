"""A small in-memory DoseKnowledge, standing in for the knowledge package's FHIR resources."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from ._orders import RXNORM, SNOMED


@dataclass(frozen=True)
class FakeProduct:
    route: str
    strength_mg: Decimal
    per_unit: str
    label: str


PRODUCTS = {
    (RXNORM, "197391"): FakeProduct(
        "oral", Decimal(10), "{tbl}", "RxNorm 197391 baclofen 10 MG Oral Tablet"
    ),
    (RXNORM, "197392"): FakeProduct(
        "oral", Decimal(20), "{tbl}", "RxNorm 197392 baclofen 20 MG Oral Tablet"
    ),
    (RXNORM, "1666613"): FakeProduct(
        "intrathecal", Decimal(2), "mL", "RxNorm 1666613 baclofen 2000 ug/mL intrathecal solution"
    ),
}
ROUTE_CODES = {
    (SNOMED, "26643006"): "oral",
    (SNOMED, "72607000"): "intrathecal",
    (SNOMED, "47625008"): "other-injection",
}
ROUTE_TEXTS = {
    "po": "oral",
    "by mouth": "oral",
    "oral": "oral",
    "it": "intrathecal",
    "intrathecal": "intrathecal",
    "iv": "other-injection",
    "intravenous": "other-injection",
}
FORM_CODES = {(SNOMED, "385055001"): "oral", (SNOMED, "385219001"): "other-injection"}


def _codings(concept: Mapping[str, Any] | None) -> list[tuple[Any, Any]]:
    if not isinstance(concept, Mapping):
        return []
    codings = concept.get("coding")
    if not isinstance(codings, list):
        return []
    return [
        (c.get("system"), c.get("code"))
        for c in codings
        if isinstance(c, dict)
        and isinstance(c.get("system"), str)
        and isinstance(c.get("code"), str)
    ]


class FakeKnowledge:
    """Products by RxNorm code; routes by SNOMED code or common text. The vocabularies
    (tablet units and words, route words in names) are the module's own."""

    def __init__(self) -> None:
        from fhir_module import load_knowledge

        real = load_knowledge()
        self.tablet_unit_codes = real.tablet_unit_codes
        self.tablet_word = real.tablet_word
        self.route_name_words = real.route_name_words

    def product_for(self, concept: Mapping[str, Any] | None) -> FakeProduct | None:
        for key in _codings(concept):
            if key in PRODUCTS:
                return PRODUCTS[key]
        return None

    def product_doubt(self, concept: Mapping[str, Any] | None) -> str | None:
        return None

    def route_for(self, concept: Mapping[str, Any] | None) -> str | None:
        for key in _codings(concept):
            if key in ROUTE_CODES:
                return ROUTE_CODES[key]
        text = concept.get("text") if isinstance(concept, Mapping) else None
        return ROUTE_TEXTS.get(text.strip().lower()) if isinstance(text, str) else None

    def route_for_form(self, concept: Mapping[str, Any] | None) -> str | None:
        for key in _codings(concept):
            if key in FORM_CODES:
                return FORM_CODES[key]
        return None


# Session scope: the knowledge is immutable, and hypothesis refuses function-scoped fixtures.
@pytest.fixture(scope="session")
def knowledge() -> FakeKnowledge:
    return FakeKnowledge()
