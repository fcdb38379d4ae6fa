"""The engine variables: what every rule may read without a declaration.

They come from the hook call and the knowledge, not from patient records. Every condition,
template and dynamic value is compiled against these names plus the facts its module's
Library declares (_declarations.py), and no others; facts/_registry.py builds each of them on
every evaluation and refuses, when it is imported, a name listed here that it does not build
or one it builds that is not listed. The meanings are the rows of the README's table. This
module imports nothing, so the loader (below facts and engine) reads the same names the
builders are checked against.
"""

from __future__ import annotations

_ROUTE_WORDS = "the order's own words for its route; the category in words"

#: (name, meaning), in the README's order: names sharing a meaning share a row there
ENGINE_VARIABLES: tuple[tuple[str, str], ...] = (
    ("order", "the MedicationRequest being judged"),
    ("orders", "the draft orders of the same drug and route judged with it"),
    ("patient", "the Patient resource (empty if none)"),
    ("medication", "the drug's ingredient-level MedicationKnowledge"),
    ("hook", "`order-select` or `order-sign`"),
    (
        "route",
        "route category: `oral`, `intrathecal`, `other-injection` (from the `route-*` "
        "ValueSets the drug's PlanDefinition names); `unrecognised` (a route is stated but "
        "none of them classifies it); "
        "`unknown` (none stated, none implied by the product, dose form or name)",
    ),
    ("routeText", _ROUTE_WORDS),
    ("routeName", _ROUTE_WORDS),
    (
        "unit",
        "the mass unit the knowledge states this route's figures in (`mg` oral, `ug` intrathecal)",
    ),
    (
        "guideline",
        "per dosage role, the guideline entries that apply to this route and to any age the "
        "patient may be on the order's date: `text`, `instruction`, `quote`, `note`, "
        "`band`, in `%unit` per day `maxDaily`, `low`, `high`, `step`, in `%unit` "
        "`maxSingle`, `singleStep`, and `maxCount` (administrations a day), `intervalDays` "
        "(several entries of one role: the smallest figure)",
    ),
    ("citation", "the first `citation` of the action's `documentation`"),
)

#: the names alone, sorted: what the strict compile allows beside a module's declared facts
VARIABLES: tuple[str, ...] = tuple(sorted(name for name, _ in ENGINE_VARIABLES))
