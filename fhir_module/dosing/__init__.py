"""Daily dose from a FHIR R4 MedicationRequest: exact on tidy orders, honest on the rest.

``daily_dose`` reads an order (and the Medication it references) into the largest
daily amount of the ingredient it allows, by route, with the arithmetic and every
assumption in words for a card; or a ``DoseUnknown`` saying why it cannot. Drug
facts (products, strengths, route codes) come from a ``DoseKnowledge``; this
package holds only standard unit and timing definitions.

The arithmetic of the doses met is remembered in bounded tables (``_memo``);
``clear_memo()`` forgets it all.
"""

from ._compute import daily_dose, order_route
from ._memo import clear_memo
from ._protocol import DoseKnowledge, Product
from ._result import UNKNOWN_ROUTE, UNRECOGNISED, DailyDose, DoseUnknown
from ._scale import scaled_order

__all__ = [
    "DailyDose",
    "DoseKnowledge",
    "DoseUnknown",
    "Product",
    "UNKNOWN_ROUTE",
    "UNRECOGNISED",
    "clear_memo",
    "daily_dose",
    "order_route",
    "scaled_order",
]
