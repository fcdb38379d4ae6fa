"""Every fact of KNOWLEDGE.md is present as data in the shipped resources."""

from __future__ import annotations

from decimal import Decimal

import pytest

from fhir_module.knowledge import Entry, Knowledge

RULE_IDS = {
    "pregnancy": {"critical"},
    "under-4": {"critical"},
    "injection-route": {"critical"},
    "max-daily-dose": {"critical"},
    "paediatric-daily-dose": {"warning"},
    "lactation": {"warning"},
    "starting-dose": {"warning"},
    "titration-step": {"warning"},
    "intrathecal-above-usual": {"info", "warning"},
    "duplicate-therapy": {"warning"},
    "respiratory-disease": {"warning"},
    "record-unreadable": {"warning"},
    "paediatric-supervision": {"info"},
    "intrathecal-test-dose": {"info"},
    "route-unrecognised": {"warning"},
    "dose-unverifiable": {"warning"},
    "patient-data-missing": {"info"},
    "counselling": {"info"},
}


def entry(
    knowledge: Knowledge, role: str, route: str | None, age: tuple[int, int] | None = None
) -> Entry:
    drug = knowledge.drugs[0]
    found = [
        e
        for e in drug.entries
        if e.role == role and e.route == route and (age is None or (e.age_low, e.age_high) == age)
    ]
    assert len(found) == 1, (role, route, age, found)
    return found[0]


def test_one_drug_baclofen_with_its_brand(knowledge: Knowledge) -> None:
    drug = knowledge.drugs[0]
    assert [d.id for d in knowledge.drugs] == ["baclofen"]
    assert drug.knowledge["synonym"] == ["Lioresal"]
    codes = {(c["system"], c["code"]) for c in drug.knowledge["code"]["coding"]}
    assert ("http://www.nlm.nih.gov/research/umls/rxnorm", "1292") in codes
    assert ("http://snomed.info/sct", "387342009") in codes
    assert ("http://fdasis.nlm.nih.gov", "H789N3FKE8") in codes
    atc = [
        c["code"]
        for cls in drug.knowledge["medicineClassification"]
        for cc in cls["classification"]
        for c in cc.get("coding", [])
    ]
    assert "M03BX01" in atc


def test_oral_limits(knowledge: Knowledge) -> None:
    maximum = entry(knowledge, "maximum", "oral")
    assert (maximum.max_daily_mg, maximum.age_low, maximum.age_high) == (100, None, None)
    assert "The maximum daily dose is 100 mg." in maximum.quotes
    usual = entry(knowledge, "usual", "oral", (13, None))
    assert (usual.usual_low_mg, usual.usual_high_mg) == (30, 75)
    starting = entry(knowledge, "starting", "oral", (13, None))
    assert starting.max_daily_mg == 15
    titration = entry(knowledge, "titration", "oral")
    assert (titration.step_mg, titration.step_days) == (5, 3)


def test_children_4_to_10_band(knowledge: Knowledge) -> None:
    ceiling = entry(knowledge, "ceiling", "oral", (4, 10))
    assert ceiling.max_daily_mg == 60
    usual = entry(knowledge, "usual", "oral", (4, 10))
    assert (usual.usual_low_mg, usual.usual_high_mg) == (30, 60)
    dosage = knowledge.drugs[0].knowledge["administrationGuidelines"][2]["dosage"][0]["dosage"][0]
    assert dosage["timing"]["repeat"] == {
        "frequency": 2,
        "frequencyMax": 3,
        "period": 1,
        "periodUnit": "d",
    }


def test_intrathecal_limits_and_the_2000_mg_correction(knowledge: Knowledge) -> None:
    maximum = entry(knowledge, "maximum", "intrathecal")
    assert maximum.max_daily_mg == Decimal(2) and maximum.unit == "ug"
    assert maximum.quotes == ("The maximum can be administered up to 2000 mg per day.",)
    assert "2000 micrograms" in maximum.notes[0]
    usual = entry(knowledge, "usual", "intrathecal")
    assert (usual.usual_low_mg, usual.usual_high_mg) == (Decimal("0.3"), Decimal("0.8"))
    lower = entry(knowledge, "lower", "intrathecal", (None, 12))
    assert lower.quotes == ("The dosing for children is lower.",)
    assert entry(knowledge, "testDose", "intrathecal").quotes


@pytest.mark.parametrize(
    ("role", "age"), [("contraindicated", (None, 3)), ("supervision", (4, 12))]
)
def test_age_bands_for_every_route(
    knowledge: Knowledge, role: str, age: tuple[int | None, int | None]
) -> None:
    found = entry(knowledge, role, None)
    assert (found.age_low, found.age_high) == age


def test_counselling_points(knowledge: Knowledge) -> None:
    texts = " ".join(
        e.instruction or "" for e in knowledge.drugs[0].entries if e.role == "counselling"
    )
    for word in ("food", "drive", "alcohol", "drowsiness", "2 weeks"):
        assert word in texts


def test_every_rule_id_with_its_indicator(knowledge: Knowledge) -> None:
    rules = knowledge.drugs[0].rules
    seen: dict[str, set[str]] = {}
    for rule in rules:
        seen.setdefault(rule.rule_id, set()).add(rule.indicator)
    assert seen == RULE_IDS
    codes = {c["code"] for c in knowledge.by_key["CodeSystem/cds-rules"].resource["concept"]}
    assert codes == set(RULE_IDS)
    counselling = [r for r in rules if r.rule_id == "counselling"]
    assert [r.hooks for r in counselling] == [frozenset({"order-select"})]
    assert all(
        r.hooks == {"order-select", "order-sign"} for r in rules if r.rule_id != "counselling"
    )


def test_products_on_the_market(knowledge: Knowledge) -> None:
    rx = "http://www.nlm.nih.gov/research/umls/rxnorm"
    strengths = {
        code: (p.route, p.strength_mg, p.per_unit)
        for (system, code), p in knowledge.products.items()
        if system == rx
    }
    assert strengths == {
        "430902": ("oral", 5, "{tbl}"),
        "197391": ("oral", 10, "{tbl}"),
        "197392": ("oral", 20, "{tbl}"),
        "1047437": ("intrathecal", Decimal("0.05"), "mL"),
        "1300890": ("intrathecal", 1, "mL"),
        "1666613": ("intrathecal", 2, "mL"),
    }


@pytest.mark.parametrize(
    ("concept", "route"),
    [
        ({"coding": [{"system": "http://snomed.info/sct", "code": "26643006"}]}, "oral"),
        (
            {"coding": [{"system": "http://standardterms.edqm.eu", "code": "20042000"}]},
            "intrathecal",
        ),
        (
            {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/v3-RouteOfAdministration",
                        "code": "IVINJ",
                    }
                ]
            },
            "other-injection",
        ),
        ({"text": "by mouth"}, "oral"),
        ({"text": "IT"}, "intrathecal"),
        ({"text": "IM"}, "other-injection"),
        ({"text": "nasal"}, None),
    ],
)
def test_routes_from_the_value_sets(knowledge: Knowledge, concept: dict, route: str | None) -> None:
    assert knowledge.route_for(concept) == route


@pytest.mark.parametrize(
    ("vs", "system", "code", "member"),
    [
        ("pregnancy-findings", "http://hl7.org/fhir/sid/icd-10-cm", "O09.511", True),
        ("pregnancy-findings", "http://hl7.org/fhir/sid/icd-10-cm", "Z3A.20", True),
        ("pregnancy-findings", "http://hl7.org/fhir/sid/icd-10-cm", "Z33.1", True),
        ("pregnancy-findings", "http://hl7.org/fhir/sid/icd-10-cm", "Z33.2", False),
        ("pregnancy-findings", "http://hl7.org/fhir/sid/icd-10", "O99.8", True),
        ("respiratory-diseases", "http://hl7.org/fhir/sid/icd-10-cm", "J44.9", True),
        ("respiratory-diseases", "http://hl7.org/fhir/sid/icd-10", "J45", True),
        ("respiratory-diseases", "http://hl7.org/fhir/sid/icd-10-cm", "K21.9", False),
        ("respiratory-diseases", "http://snomed.info/sct", "13645005", True),
        ("breastfeeding-findings", "http://loinc.org", "LA29252-6", True),
    ],
)
def test_value_set_membership(
    knowledge: Knowledge, vs: str, system: str, code: str, member: bool
) -> None:
    index = knowledge.value_set(f"http://fhir-module.org/fhir/ValueSet/{vs}")
    assert index.has_coding(system, code) is member


def test_every_resource_declares_a_profile_and_canonicals_carry_the_version(
    knowledge: Knowledge,
) -> None:
    for f in knowledge.files:
        res = f.resource
        if res["resourceType"] != "StructureDefinition":
            assert res["meta"]["profile"], f.name
        if "url" in res:
            assert res["version"] == "0.1.0", f.name
            assert res["url"].endswith(f"/{res['resourceType']}/{res['id']}"), f.name
