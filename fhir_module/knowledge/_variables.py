"""The variables rule expressions may read: the contract between the knowledge and the engine.

Every condition, template and dynamic value is compiled against these names (and no
others); facts/_registry.py builds each of them on every evaluation and refuses, when it is
imported, a name declared here that it does not build or one it builds that is not declared.
The meanings are the rows of the README's table. This module imports nothing, so the loader
(below facts and engine) reads the same names the builders are checked against.
"""

from __future__ import annotations

_ROUTE_WORDS = "the order's own words for its route; the category in words"
_RECORD = "booleans from the record"
_EVIDENCE = "the records that show them, in words"
_DOSE_TEXT = '"120 mg/day"; "20 mg x 3 a day = 60 mg/day; ..."; what was assumed'
_CURRENT_DOSE = "their daily dose"
_COMBINED = "drafts plus active orders, and whether that passes `%guideline.maximum`"

#: (name, meaning), in the README's order: names sharing a meaning share a row there
DECLARED: tuple[tuple[str, str], ...] = (
    ("order", "the MedicationRequest being judged"),
    ("orders", "the draft orders of the same drug and route judged with it"),
    ("patient", "the Patient resource (empty if none)"),
    ("medication", "the drug's ingredient-level MedicationKnowledge"),
    ("hook", "`order-select` or `order-sign`"),
    (
        "route",
        "route category: `oral`, `intrathecal`, `other-injection` (from the `route-*` "
        "ValueSets); `unrecognised` (a route is stated but no ValueSet classifies it); "
        "`unknown` (none stated, none implied by the product, dose form or name)",
    ),
    ("routeText", _ROUTE_WORDS),
    ("routeName", _ROUTE_WORDS),
    (
        "unit",
        "the mass unit the knowledge states this route's figures in (`mg` oral, `ug` intrathecal)",
    ),
    ("age", "`{low, high}` completed years on the order's date (empty without a birth date)"),
    ("ageText", '"7 years", "3 to 4 years (birth date imprecise)"'),
    ("pregnant", _RECORD),
    ("breastfeeding", _RECORD),
    ("respiratoryDisease", _RECORD),
    ("pregnancyEvidence", _EVIDENCE),
    ("breastfeedingEvidence", _EVIDENCE),
    ("respiratoryEvidence", _EVIDENCE),
    ("dose", "`{computed: true}` or `{computed: false, reason}` for this order"),
    ("dailyDose", "the daily dose of `%orders` (computable ones), in `%unit` per day"),
    ("doseText", _DOSE_TEXT),
    ("arithmetic", _DOSE_TEXT),
    ("assumptionsText", _DOSE_TEXT),
    (
        "guideline",
        "per dosage role, the guideline entries that apply to this route and to any age in "
        "`%age`: `text`, `instruction`, `quote`, `note`, `band`, in `%unit` per day "
        "`maxDaily`, `low`, `high`, `step`, in `%unit` `maxSingle`, `singleStep`, and "
        "`maxCount` (administrations a day), `intervalDays` (several entries of one role: "
        "the smallest figure)",
    ),
    (
        "current",
        "the patient's active orders of the drug by the same route (not among the drafts)",
    ),
    ("currentDailyDose", _CURRENT_DOSE),
    ("currentDailyDoseText", _CURRENT_DOSE),
    ("currentText", _CURRENT_DOSE),
    (
        "currentDays",
        "days from the latest active order's `authoredOn` to this order's date",
    ),
    ("combinedText", _COMBINED),
    ("combinedExceedsMaximum", _COMBINED),
    (
        "everIntrathecal",
        "any earlier intrathecal order of the drug (not entered-in-error, cancelled or draft)",
    ),
    ("citation", "the first `citation` of the action's `documentation`"),
)

#: the names alone, sorted: what the strict compile allows
VARIABLES: tuple[str, ...] = tuple(sorted(name for name, _ in DECLARED))
