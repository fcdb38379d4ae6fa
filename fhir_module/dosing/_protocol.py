"""What the dose arithmetic needs to know about drugs, as a Protocol.

Product and route codes are knowledge (FHIR resources the knowledge package
loads), so this package never names one: it asks an object shaped like
``DoseKnowledge``. Any object with these members will do; nothing here depends
on how the knowledge is stored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, Protocol


class Product(Protocol):
    """One presentation of the drug: a tablet of a strength, a solution of a concentration."""

    @property
    def route(self) -> str:
        """'oral' or 'intrathecal'."""
        ...

    @property
    def strength_mg(self) -> Decimal:
        """Milligrams of the ingredient in one unit of presentation."""
        ...

    @property
    def per_unit(self) -> str:
        """UCUM unit of the presentation: '{tbl}' or 'mL'."""
        ...

    @property
    def label(self) -> str:
        """Words naming the product for a card, e.g. 'RxNorm 197391 baclofen 10 MG Oral Tablet'."""
        ...


class DoseKnowledge(Protocol):
    """Code lookups the dose arithmetic delegates to the knowledge."""

    def product_for(self, concept: Mapping[str, Any] | None) -> Product | None:
        """The product a medication CodeableConcept names by any of its codings, else None."""
        ...

    def product_doubt(self, concept: Mapping[str, Any] | None) -> str | None:
        """Why the codes of a concept for which product_for found none may be several
        products (words for the card), or None."""
        ...

    def route_for(self, concept: Mapping[str, Any] | None) -> str | None:
        """'oral' | 'intrathecal' | 'other-injection' | 'other' for a route concept, else None."""
        ...

    def route_for_form(self, concept: Mapping[str, Any] | None) -> str | None:
        """The route a dose-form concept implies, else None."""
        ...

    @property
    def tablet_unit_codes(self) -> frozenset[tuple[str, str]]:
        """(system, code) of the units of presentation a dose counts as one tablet."""
        ...

    @property
    def tablet_word(self) -> re.Pattern[str]:
        """Matches a word for a tablet in a product name (its strength is then per tablet)."""
        ...

    @property
    def route_name_words(self) -> tuple[tuple[str, re.Pattern[str]], ...]:
        """(route, words in a name that imply it), in the order they are tried."""
        ...
