"""%guideline reads the dosage roles singleMaximum, dosesPerDay, titration (per dose) and
notEstablished from the MedicationKnowledge, whatever the drug."""

from __future__ import annotations

import copy
import dataclasses
import json
from decimal import Decimal
from typing import Any

import pytest

from fhir_module.facts import AgeRange, guideline_view
from fhir_module.knowledge import Drug, Knowledge
from fhir_module.knowledge._guidelines import per_day, read_guidelines

from .conftest import MODULE

MK = json.loads((MODULE / "MedicationKnowledge-tizanidine.json").read_text())


def tizanidine(knowledge: Knowledge) -> Drug:
    return next(d for d in knowledge.drugs if d.id == "tizanidine")


def route_of(knowledge: Knowledge) -> Any:
    return knowledge.route_for


def test_figures_read_from_the_medication_knowledge(terms: Knowledge) -> None:
    view = guideline_view(tizanidine(terms), "oral", AgeRange(40, 40, False), "mg")
    assert view["singleMaximum"]["maxSingle"] == 16
    assert view["dosesPerDay"]["maxCount"] == 3
    assert view["titration"]["singleStep"] == 4
    assert view["titration"]["intervalDays"] == 1
    assert view["maximum"]["maxDaily"] == 36
    assert "step" not in view["titration"]  # a per-dose step is not a daily one
    assert view["singleMaximum"]["quote"] == [
        "Single doses greater than 16 mg have not been studied."
    ]
    assert "notEstablished" not in view


def test_not_established_selected_by_age_band(terms: Knowledge) -> None:
    drug = tizanidine(terms)
    child = guideline_view(drug, "oral", AgeRange(17, 17, False), "mg")
    assert child["notEstablished"]["band"] == "under 18 years"
    assert child["notEstablished"]["text"] == [
        "Safety and effectiveness in patients under 18 have not been established."
    ]
    # an imprecise birth date spanning the bound selects it, as for contraindicated
    assert "notEstablished" in guideline_view(drug, "oral", AgeRange(17, 18, True), "mg")
    assert "notEstablished" not in guideline_view(drug, "oral", AgeRange(18, 18, False), "mg")
    # the entry has no route: it applies to every route
    assert "notEstablished" in guideline_view(drug, "intrathecal", AgeRange(9, 9, False), "mg")


def test_figures_follow_the_json(terms: Knowledge) -> None:
    """A site editing the figures changes what the rules see; nothing is in Python."""
    mk = copy.deepcopy(MK)
    for guideline in mk["administrationGuidelines"]:
        for group in guideline["dosage"]:
            for dosage in group["dosage"]:
                if "maxDosePerAdministration" in dosage:
                    dosage["maxDosePerAdministration"].update(value=12000, unit="ug", code="ug")
                if "timing" in dosage:
                    dosage["timing"]["repeat"] = {
                        "frequencyMax": 1,
                        "period": 8,
                        "periodUnit": "h",
                    }
                for ext in dosage.get("extension", []):
                    if ext["url"].endswith("/single-dose-increment"):
                        ext["valueRatio"]["numerator"]["value"] = 2
                        ext["valueRatio"]["denominator"].update(value=3)
    entries = read_guidelines(mk, route_of(terms))
    single = next(e for e in entries if e.role == "singleMaximum")
    assert (single.max_single_mg, single.unit) == (Decimal(12), "ug")
    count = next(e for e in entries if e.role == "dosesPerDay")
    assert count.max_count == 3  # once per 8 hours: three a day
    step = next(e for e in entries if e.role == "titration")
    assert (step.single_step_mg, step.single_step_days) == (Decimal(2), Decimal(3))
    drug = tizanidine(terms)
    edited = dataclasses.replace(drug, entries=entries)
    view = guideline_view(edited, "oral", AgeRange(40, 40, False), "ug")
    assert view["singleMaximum"]["maxSingle"] == 12000
    assert view["titration"]["singleStep"] == 2000
    assert view["titration"]["intervalDays"] == 3


def test_baclofen_timings_give_counts_and_no_new_limit(knowledge: Knowledge) -> None:
    view = guideline_view(knowledge.drugs[0], "oral", AgeRange(7, 7, False), "mg")
    assert view["usual"]["maxCount"] == 3  # "30-60 mg a day, divided into 2-3 doses"
    assert not {"maxSingle", "singleStep"} & {k for item in view.values() for k in item}


@pytest.mark.parametrize(
    ("repeat", "expected"),
    [
        ({"frequency": 1, "frequencyMax": 3, "period": 1, "periodUnit": "d"}, 3),
        ({"frequency": 2, "period": 1, "periodUnit": "d"}, 2),
        ({"frequency": 1, "period": 6, "periodUnit": "h"}, 4),
        ({"frequency": 1, "period": 2, "periodUnit": "d"}, Decimal("0.5")),
        ({"period": 1, "periodUnit": "d"}, None),
        (None, None),
    ],
)
def test_per_day(repeat: Any, expected: Any) -> None:
    assert per_day(repeat) == expected


@pytest.mark.parametrize(
    "repeat",
    [
        {"frequency": 3},
        {"frequency": 3, "period": 1, "periodUnit": "fortnight"},
        {"frequency": 3, "period": 0, "periodUnit": "d"},
    ],
)
def test_per_day_refuses_an_unreadable_period(repeat: Any) -> None:
    with pytest.raises(ValueError, match="timing.repeat"):
        per_day(repeat)


def test_unreadable_figures_name_the_element(terms: Knowledge) -> None:
    mk = copy.deepcopy(MK)
    group = mk["administrationGuidelines"][0]["dosage"][1]
    assert group["type"]["coding"][0]["code"] == "singleMaximum"
    group["dosage"][0]["maxDosePerAdministration"].update(code="{tbl}", unit="tablet")
    with pytest.raises(ValueError, match=r"^administrationGuidelines\[0\]\.dosage\[1\]"):
        read_guidelines(mk, route_of(terms))
