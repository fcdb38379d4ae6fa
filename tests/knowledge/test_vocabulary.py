"""The words and unit codes the dose arithmetic reads are knowledge: a site that edits the
ValueSets (tablet-units, the route-* name words) changes what orders are read as."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from fhir_module import load_knowledge
from fhir_module.dosing import DailyDose, daily_dose
from fhir_module.knowledge import Knowledge, default_files

SCT = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
NAME_WORD = {
    "system": "http://fhir-module.org/fhir/CodeSystem/designation-use",
    "code": "name-word",
}


def _order(name: str, dose: dict[str, Any], route: dict[str, Any] | None = None) -> dict[str, Any]:
    dosage: dict[str, Any] = {
        "timing": {"repeat": {"frequency": 3, "period": 1, "periodUnit": "d"}},
        "doseAndRate": [{"doseQuantity": dose}],
    }
    if route is not None:
        dosage["route"] = route
    return {
        "resourceType": "MedicationRequest",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/p"},
        "medicationCodeableConcept": {"text": name},
        "dosageInstruction": [dosage],
    }


TABLET = {"value": 2, "unit": "tablet", "system": UCUM, "code": "{tbl}"}
CODED_TABLET = {"value": 2, "unit": "Stk", "system": SCT, "code": "732936001"}


def _edit(folder: Path, file: str, change: Callable[[dict[str, Any]], None]) -> Knowledge:
    path = folder / file
    resource = json.loads(path.read_text())
    change(resource)
    path.write_text(json.dumps(resource))
    return load_knowledge(folder, include_default=False)


def _concept(vs: dict[str, Any], system: str, code: str) -> dict[str, Any]:
    for include in vs["compose"]["include"]:
        for concept in include.get("concept", []):
            if include["system"] == system and concept["code"] == code:
                found: dict[str, Any] = concept
                return found
    raise KeyError(code)


def add_tablet_word(vs: dict[str, Any]) -> None:  # 'Tabl', as Swiss product names say
    _concept(vs, "http://standardterms.edqm.eu", "15054000")["designation"].append(
        {"use": NAME_WORD, "value": "Tabl"}
    )


def add_oral_word(vs: dict[str, Any]) -> None:  # the same word, said to imply the oral route
    _concept(vs, SCT, "26643006")["designation"].append({"use": NAME_WORD, "value": "Tabl"})


def add_tablet_unit(vs: dict[str, Any]) -> None:  # SNOMED CT Tablet (unit of presentation)
    vs["compose"]["include"].append(
        {"system": SCT, "concept": [{"code": "732936001", "display": "Tablet"}]}
    )


def add_route_word(vs: dict[str, Any]) -> None:
    _concept(vs, SCT, "72607000")["designation"].append({"use": NAME_WORD, "value": "spinal"})


# (id, file, edit, order, (route, mg/day) with the module's own ValueSets, and with the edit)
CASES = [
    (
        "tablet word",
        "ValueSet-tablet-units.json",
        add_tablet_word,
        _order("Baclofen Tabl 10 mg", TABLET),
        ("unknown", None),
        ("unknown", 60),  # per tablet now; the route is what route-oral's words say
    ),
    (
        "oral word",
        "ValueSet-route-oral.json",
        add_oral_word,
        _order("Baclofen Tabl 10 mg", TABLET),
        ("unknown", None),
        ("oral", None),  # oral now; the strength is per tablet only by tablet-units' words
    ),
    (
        "tablet unit code",
        "ValueSet-tablet-units.json",
        add_tablet_unit,
        _order("baclofen 10 mg tablet", CODED_TABLET),
        ("oral", None),
        ("oral", 60),
    ),
    (
        "route word",
        "ValueSet-route-intrathecal.json",
        add_route_word,
        _order("baclofen spinal", {"value": 50, "unit": "ug", "system": UCUM, "code": "ug"}),
        ("unknown", 0.15),
        ("intrathecal", 0.15),
    ),
]


def _read(order: dict[str, Any], knowledge: Knowledge) -> tuple[str, float | None]:
    dose = daily_dose(order, knowledge)
    return dose.route, float(dose.mg_per_day) if isinstance(dose, DailyDose) else None


@pytest.mark.parametrize(
    ("file", "change", "order", "before", "after"),
    [pytest.param(*row[1:], id=str(row[0])) for row in CASES],
)
def test_the_dose_vocabulary_is_read_from_the_knowledge(
    tmp_path: Path,
    knowledge: Knowledge,
    file: str,
    change: Callable[[dict[str, Any]], None],
    order: dict[str, Any],
    before: tuple[str, float | None],
    after: tuple[str, float | None],
) -> None:
    for path in default_files():
        shutil.copy(path, tmp_path / path.name)
    assert _read(order, knowledge) == before
    assert _read(order, _edit(tmp_path, file, change)) == after


@pytest.mark.parametrize("text", ["buvable", "tablet", "comprimé", "orales", "kapseln"])
def test_name_words_are_not_route_spellings(knowledge: Knowledge, text: str) -> None:
    # Words that imply a route in a product's name say nothing as an order's route text.
    assert knowledge.route_for({"text": text}) is None
