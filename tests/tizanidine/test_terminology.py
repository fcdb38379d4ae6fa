"""ATC is-a filters evaluated locally, and NDC product and package codes."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fhir_module import KnowledgeError, load_knowledge
from fhir_module.dosing import DailyDose, daily_dose
from fhir_module.facts import PatientRecord
from fhir_module.hooks import evaluate_hook
from fhir_module.knowledge import Knowledge
from fhir_module.knowledge._terminology import atc_is_a, build_value_set, ndc_product

from ..engine.builders import ORAL, context, order, patient
from .conftest import MODULE

ATC = "http://www.whocc.no/atc"
NDC = "http://hl7.org/fhir/sid/ndc"
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
OTHER = "http://fhir-module.org/fhir/ValueSet/cyp1a2-other-inhibitors"
POTENT = "http://fhir-module.org/fhir/ValueSet/cyp1a2-potent-inhibitors"


@pytest.mark.parametrize(
    "code",
    [
        "G03AA07",  # levonorgestrel and ethinylestradiol, fixed combination
        "G03AA12",  # drospirenone and ethinylestradiol
        "G03AB03",  # levonorgestrel and ethinylestradiol, sequential
        "G03AA",  # the subgroup itself
        "C01BD01",  # amiodarone, listed as a concept
        "J05AB01",  # aciclovir
    ],
)
def test_cyp1a2_other_inhibitors_members(terms: Knowledge, code: str) -> None:
    assert terms.value_set(OTHER).has_coding(ATC, code)


@pytest.mark.parametrize(
    ("system", "code"),
    [
        (ATC, "G03AC01"),  # a progestogen alone: not a combined contraceptive
        (ATC, "G03A"),  # the parent of the filter is not under it
        (ATC, "G03"),
        (ATC, "N06AB08"),  # fluvoxamine: contraindicated, in the other ValueSet
        (ATC, "M03BX02"),  # tizanidine itself
        (ATC, "G03AA0"),  # not an ATC code
        ("http://hl7.org/fhir/sid/icd-10", "G03AA07"),  # the same letters in another system
        (RX, "G03AA07"),
    ],
)
def test_cyp1a2_other_inhibitors_non_members(terms: Knowledge, system: str, code: str) -> None:
    assert not terms.value_set(OTHER).has_coding(system, code)


def test_potent_inhibitors_by_code_and_not_by_filter(terms: Knowledge) -> None:
    potent = terms.value_set(POTENT)
    assert potent.has_coding(ATC, "N06AB08") and potent.has_coding(RX, "42355")
    assert not potent.has_coding(ATC, "N06AB")  # an explicit concept is not a filter


@pytest.mark.parametrize(
    ("code", "parent", "expected"),
    [
        ("G03AA07", "G03AA", True),
        ("G03AA07", "G", True),
        ("g03aa07", "G03AA", True),
        ("G03AA07", "G03AA07", True),
        ("G03AB01", "G03AA", False),
        ("G03AA07X", "G03AA", False),
        ("", "G", False),
    ],
)
def test_atc_is_a(code: str, parent: str, expected: bool) -> None:
    assert atc_is_a(code, parent) is expected


def _value_set(system: str, value: str, op: str = "is-a") -> dict[str, Any]:
    return {
        "resourceType": "ValueSet",
        "url": "http://example.org/fhir/ValueSet/x",
        "compose": {
            "include": [
                {"system": system, "filter": [{"property": "concept", "op": op, "value": value}]}
            ]
        },
    }


def test_filters_that_cannot_be_evaluated_are_refused() -> None:
    _, problems = build_value_set(_value_set("http://snomed.info/sct", "50043002"), {})
    assert problems == [
        "compose.include[0].filter[0]: only is-a on ICD-10, ICD-10-CM or ATC can be "
        "evaluated locally"
    ]
    _, problems = build_value_set(_value_set(ATC, "G03AA", op="descendent-of"), {})
    assert problems and "only is-a" in problems[0]
    _, problems = build_value_set(_value_set(ATC, "G03 AA"), {})
    assert problems == [
        "compose.include[0].filter[0].value: 'G03 AA' is not a http://www.whocc.no/atc code"
    ]


def test_an_unevaluable_filter_stops_the_module(tmp_path: Path) -> None:
    for path in MODULE.glob("ValueSet-*.json"):
        shutil.copy(path, tmp_path / path.name)
    path = tmp_path / "ValueSet-cyp1a2-other-inhibitors.json"
    resource = json.loads(path.read_text())
    resource["compose"]["include"].append(
        _value_set("http://snomed.info/sct", "1")["compose"]["include"][0]
    )
    path.write_text(json.dumps(resource))
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(tmp_path)
    assert err.value.file == "ValueSet-cyp1a2-other-inhibitors.json"
    assert err.value.element.endswith(".filter[0]")


@pytest.mark.parametrize(
    ("code", "product"),
    [
        ("57664-502", "57664-0502"),  # product code, 5-3
        ("57664-502-88", "57664-0502"),  # package code, 5-3-2
        ("57664050288", "57664-0502"),  # 11 digits, no hyphens
        ("0093-0058-01", "00093-0058"),  # 4-4-2
        ("50742-0225-1", "50742-0225"),  # 5-4-1
        ("57664-0502", "57664-0502"),  # already 5-4
        ("5766450288", None),  # 10 digits without hyphens: ambiguous
        ("57664-502-888", None),
        ("576-502", None),
        ("ABCDE-502", None),
        ("", None),
    ],
)
def test_ndc_product(code: str, product: str | None) -> None:
    assert ndc_product(code) == product


def _ndc(code: str) -> dict[str, Any]:
    return {"coding": [{"system": NDC, "code": code}]}


@pytest.mark.parametrize("code", ["57664-503", "57664-503-13", "57664050313", "57664-0503"])
def test_ndc_products_give_the_strength(terms: Knowledge, code: str) -> None:
    product = terms.product_for(_ndc(code))
    assert product is not None
    assert (product.id, product.strength_mg, product.per_unit, product.route) == (
        "tizanidine-4mg-tablet",
        4,
        "{tbl}",
        "oral",
    )
    assert product.label == "tizanidine 4 MG Oral Tablet (313413)"


def test_ndc_capsules(terms: Knowledge) -> None:
    found = {code: terms.product_for(_ndc(code)) for code in ("70710-1111-1", "72189-678-30")}
    assert {c: (p.id, p.strength_mg) for c, p in found.items() if p} == {
        "70710-1111-1": ("tizanidine-2mg-capsule", 2),
        "72189-678-30": ("tizanidine-6mg-capsule", 6),
    }
    assert terms.product_for(_ndc("00000-0000-00")) is None
    assert terms.product_for(_ndc("0000000000")) is None  # no layout is a known product
    # 10 digits without hyphens: only its 5-3-2 layout, 57664-503-13, is a known product
    found = terms.product_for(_ndc("5766450313"))
    assert found is not None and found.id == "tizanidine-4mg-tablet"


def test_an_ndc_package_order_is_tizanidine_and_counted_in_tablets(terms: Knowledge) -> None:
    draft = order("t", 4, 3, medication=_ndc("57664-503-13"), unit="{tbl}", route=ORAL)
    dose = daily_dose(draft, terms)
    assert isinstance(dose, DailyDose)
    assert dose.mg_per_day == 48  # 4 tablets of 4 mg, three times a day
    cards = evaluate_hook(
        terms,
        "order-sign",
        context(draft),
        PatientRecord(patient("1970-01-01")),
        today=date(2026, 11, 26),
    )["cards"]
    assert [c["summary"] for c in cards] == ["Tizanidine 48 mg/day exceeds the 36 mg/day maximum"]


def test_a_malformed_ndc_in_a_product_stops_the_module(tmp_path: Path) -> None:
    for path in MODULE.glob("*.json"):
        shutil.copy(path, tmp_path / path.name)
    path = tmp_path / "MedicationKnowledge-tizanidine-6mg-capsule.json"
    resource = json.loads(path.read_text())
    resource["code"]["coding"][1]["code"] = "72189678"
    path.write_text(json.dumps(resource))
    with pytest.raises(KnowledgeError) as err:
        load_knowledge(tmp_path)
    assert (err.value.file, err.value.element) == (path.name, "code.coding[1].code")


def test_ndc_package_codes_are_members_of_their_product(terms: Knowledge) -> None:
    medications = terms.value_set("http://fhir-module.org/fhir/ValueSet/tizanidine-medications")
    assert medications.has_coding(NDC, "57664-502")
    assert medications.has_coding(NDC, "57664-0502-88")
    assert medications.has_coding(NDC, "46708049130")
    assert not medications.has_coding(NDC, "57664-504-88")
    assert not medications.has_coding(RX, "57664-502-88")
    assert not terms.value_set(OTHER).has_coding(NDC, "57664-502-88")


@pytest.mark.parametrize(
    ("code", "problem"),
    [
        ("57664502", "is an NDC product code of 8 digits without a hyphen, which may be written"),
        ("5766405030", "is an NDC of 10 digits without hyphens, which may be written 4-4-2,"),
        ("57664-502-888", "is not an NDC product or package code"),
    ],
)
def test_a_malformed_ndc_concept_is_refused(code: str, problem: str) -> None:
    resource = {
        "resourceType": "ValueSet",
        "url": "http://example.org/fhir/ValueSet/x",
        "compose": {"include": [{"system": NDC, "concept": [{"code": code}]}]},
    }
    _, problems = build_value_set(resource, {})
    assert len(problems) == 1
    assert problems[0].startswith(f"compose.include[0].concept[0].code: {code!r} {problem}")
