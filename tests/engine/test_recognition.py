"""The drug is recognised however a real feed names it: by the order's code, its Medication's
code, an ingredient, a name in another language, and through every kind of reference."""

from __future__ import annotations

import copy
import json
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_module import evaluate, evaluate_bundle
from fhir_module.dosing import DailyDose, daily_dose
from fhir_module.knowledge import Knowledge, Pool, default_files, load_knowledge, named_medication

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
DAY = date(2026, 11, 26)
RX = "http://www.nlm.nih.gov/research/umls/rxnorm"
SCT = "http://snomed.info/sct"
UNII = "http://fdasis.nlm.nih.gov"
ATC = "http://www.whocc.no/atc"
UCUM = "http://unitsofmeasure.org"

#: 40 mg four times a day by mouth: 160 mg/day, above the 100 mg/day oral maximum
DOSAGE = {
    "text": "40 mg by mouth four times daily",
    "timing": {"repeat": {"frequency": 4, "period": 1, "periodUnit": "d"}},
    "route": {"coding": [{"system": SCT, "code": "26643006", "display": "Oral route"}]},
    "doseAndRate": [{"doseQuantity": {"value": 40, "unit": "mg", "system": UCUM, "code": "mg"}}],
}


def order(**medication: Any) -> dict[str, Any]:
    return {
        "resourceType": "MedicationRequest",
        "id": "mr-1",
        "status": "draft",
        "intent": "order",
        "subject": {"reference": "Patient/pat-1"},
        "authoredOn": "2026-11-26",
        **medication,
        "dosageInstruction": [copy.deepcopy(DOSAGE)],
    }


def ingredient_only(code: dict[str, Any] | None, *coding: tuple[str, str, str]) -> dict[str, Any]:
    """A Medication with no (or an unknown) code of its own, but the drug as ingredient."""
    medication: dict[str, Any] = {
        "resourceType": "Medication",
        "id": "med-1",
        "ingredient": [
            {
                "itemCodeableConcept": {
                    "coding": [{"system": s, "code": c, "display": d} for s, c, d in coding]
                },
                "isActive": True,
            }
        ],
    }
    if code is not None:
        medication["code"] = code
    return medication


NDC_UNKNOWN = {"coding": [{"system": "http://hl7.org/fhir/sid/ndc", "code": "0000-0000-00"}]}
WHAT = {"text": "Generic muscle relaxant tablets"}


def _bundle(*entries: tuple[str | None, dict[str, Any]]) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": [
            {"fullUrl": url, "resource": res} if url else {"resource": res} for url, res in entries
        ],
    }


def _contained(medication: dict[str, Any], ref: str = "#med-1") -> dict[str, Any]:
    o = order(medicationReference={"reference": ref})
    o["contained"] = [medication]
    return o


UUID = "urn:uuid:6a2cbd52-5a1d-4d2f-9e4e-6b1d6e7f9a01"
OID = "urn:oid:1.2.36.146.595.217.0.1"
ABSOLUTE = "https://ehr.example.org/fhir/Medication/med-1"

# Each row: how the draftOrders Bundle carries one 160 mg/day baclofen order.
ENCODINGS: dict[str, dict[str, Any]] = {
    "codeable-concept ingredient code (baseline)": _bundle(
        (None, order(medicationCodeableConcept={"coding": [{"system": RX, "code": "1292"}]}))
    ),
    "contained, ingredient RxNorm, no code": _bundle(
        (None, _contained(ingredient_only(None, (RX, "1292", "baclofen"))))
    ),
    "contained, ingredient SNOMED, text-only code": _bundle(
        (None, _contained(ingredient_only(WHAT, (SCT, "387342009", "Baclofen (substance)"))))
    ),
    "contained, ingredient UNII, unknown NDC code": _bundle(
        (None, _contained(ingredient_only(NDC_UNKNOWN, (UNII, "H789N3FKE8", "BACLOFEN"))))
    ),
    "contained, ingredient ATC, no display": _bundle(
        (None, _contained(ingredient_only(None, (ATC, "M03BX01", ""))))
    ),
    "Bundle entry by urn:uuid": _bundle(
        (None, order(medicationReference={"reference": UUID})),
        (UUID, ingredient_only(WHAT, (RX, "1292", "baclofen"))),
    ),
    "Bundle entry by urn:oid": _bundle(
        (None, order(medicationReference={"reference": OID})),
        (OID, ingredient_only(None, (SCT, "387342009", "Baclofen"))),
    ),
    "Bundle entry by absolute URL": _bundle(
        (None, order(medicationReference={"reference": ABSOLUTE})),
        (ABSOLUTE, ingredient_only(None, (RX, "1292", "baclofen"))),
    ),
    "Bundle entry by Type/id, versioned": _bundle(
        (None, order(medicationReference={"reference": "Medication/med-1/_history/3"})),
        (ABSOLUTE, ingredient_only(None, (RX, "1292", "baclofen"))),
    ),
    "ingredient by itemReference to a contained Substance": _bundle(
        (
            None,
            {
                **order(medicationReference={"reference": "#med-1"}),
                "contained": [
                    {
                        "resourceType": "Medication",
                        "id": "med-1",
                        "code": WHAT,
                        "ingredient": [{"itemReference": {"reference": "#sub-1"}}],
                    },
                    {
                        "resourceType": "Substance",
                        "id": "sub-1",
                        "code": {"coding": [{"system": SCT, "code": "387342009"}]},
                    },
                ],
            },
        )
    ),
    "R5 medication.concept": _bundle(
        (None, order(medication={"concept": {"coding": [{"system": RX, "code": "1292"}]}}))
    ),
    "R5 medication.reference to a urn:uuid": _bundle(
        (None, order(medication={"reference": {"reference": UUID}})),
        (UUID, ingredient_only(None, (RX, "1292", "baclofen"))),
    ),
    "French name, accents": _bundle(
        (None, order(medicationCodeableConcept={"text": "Baclofène 10 mg, comprimé"}))
    ),
    "French name, capitals": _bundle(
        (None, order(medicationCodeableConcept={"text": "BACLOFENE ZENTIVA 10 MG CPR"}))
    ),
    "Spanish name": _bundle(
        (None, order(medicationCodeableConcept={"text": "Baclofeno 10 mg comprimidos"}))
    ),
    "brand name in a reference display": _bundle(
        (None, order(medicationReference={"reference": "Medication/x9", "display": "Lioresal"}))
    ),
}


def request(draft_orders: dict[str, Any], prefetch_extra: dict[str, Any] | None = None) -> Any:
    """The pregnancy example (a pregnant adult), with these draft orders."""
    req = json.loads((EXAMPLES / "order-sign-pregnancy.request.json").read_text())
    req["context"]["draftOrders"] = draft_orders
    req["prefetch"].update(prefetch_extra or {})
    return req


def rules(response: dict[str, Any]) -> list[str]:
    return sorted(c["source"]["topic"]["code"] for c in response["cards"])


BASELINE = rules(evaluate(request(next(iter(ENCODINGS.values()))), today=DAY))


def test_the_baseline_order_is_judged() -> None:
    assert {"pregnancy", "max-daily-dose"} <= set(BASELINE)


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_every_encoding_is_judged_alike(name: str) -> None:
    assert rules(evaluate(request(ENCODINGS[name]), today=DAY)) == BASELINE


def test_a_medication_only_in_the_prefetch_is_found() -> None:
    drafts = _bundle((None, order(medicationReference={"reference": "Medication/med-1"})))
    included = {
        "resourceType": "Bundle",
        "type": "searchset",
        "entry": [
            {
                "fullUrl": ABSOLUTE,
                "resource": ingredient_only(None, (RX, "1292", "baclofen")),
                "search": {"mode": "include"},
            }
        ],
    }
    assert rules(evaluate(request(drafts, {"medications": included}), today=DAY)) == BASELINE


def test_a_plain_bundle_keeps_its_urn_uuid_references() -> None:
    bundle = json.loads((EXAMPLES / "bundle-paediatric-overdose-asthma.bundle.json").read_text())
    baseline = rules(evaluate_bundle(bundle, today=DAY))
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res["resourceType"] == "MedicationRequest" and "medicationCodeableConcept" in res:
            res["medicationReference"] = {"reference": UUID}
            medication = {
                "resourceType": "Medication",
                "code": res.pop("medicationCodeableConcept"),
            }
            bundle["entry"].append({"fullUrl": UUID, "resource": medication})
            break
    assert rules(evaluate_bundle(bundle, today=DAY)) == baseline


@pytest.mark.parametrize(
    ("text", "recognised"),
    [
        ("baclofen", True),
        ("Baclofène", True),
        ("BACLOFENE", True),
        ("baclofeno", True),
        ("Baclofen-ratiopharm 10 mg Tabletten", True),
        ("Lioresal Intrathecal 2 mg/ml", True),
        ("Gablofen 50 mcg/mL intrathecal", True),
        ("arbaclofen placarbil", False),  # another INN, not a spelling of baclofen
        ("tizanidine 4 mg", False),
        ("", False),
    ],
)
def test_names_are_recognised_as_whole_words(
    knowledge: Knowledge, text: str, recognised: bool
) -> None:
    named = named_medication(order(medicationCodeableConcept={"text": text}))
    assert (knowledge.drug_named(named) is not None) is recognised


def test_the_dose_arithmetic_reads_the_same_medication(knowledge: Knowledge) -> None:
    """The engine resolves the Medication once; the dose is read from what it found."""
    medication = ingredient_only(None, (RX, "1292", "baclofen"))
    medication["ingredient"][0]["strength"] = {
        "numerator": {"value": 20, "unit": "mg", "system": UCUM, "code": "mg"},
        "denominator": {"value": 1, "unit": "tablet", "system": UCUM, "code": "{tbl}"},
    }
    o = order(medicationReference={"reference": UUID})
    o["dosageInstruction"][0]["doseAndRate"][0]["doseQuantity"] = {
        "value": 2,
        "unit": "tablet",
        "system": UCUM,
        "code": "{tbl}",
    }
    named = named_medication(o, Pool([(UUID, medication)]))
    assert named.medication is medication and knowledge.drug_named(named) is not None
    dose = daily_dose(o, knowledge, named.medication)
    assert isinstance(dose, DailyDose) and dose.mg_per_day == 160


def test_an_unresolvable_reference_is_said(knowledge: Knowledge) -> None:
    o = order(medicationReference={"reference": "urn:uuid:0000", "display": "baclofen 10 mg"})
    named = named_medication(o)
    assert named.medication is None and "was not found" in named.notes[0]
    assert knowledge.drug_named(named) is not None


def test_an_active_order_referencing_an_included_medication_is_on_record() -> None:
    """The prefetch's MedicationRequests come with their Medications (_include): an active
    order named only by reference is still a duplicate of the new one."""
    req = json.loads((EXAMPLES / "order-sign-duplicate-therapy.request.json").read_text())
    expected = rules(evaluate(req, today=DAY))
    assert "duplicate-therapy" in expected
    bundle = req["prefetch"]["medications"]
    for entry in bundle["entry"]:
        res = entry["resource"]
        if res.get("status") == "active" and "medicationCodeableConcept" in res:
            code = res.pop("medicationCodeableConcept")
            res["medicationReference"] = {"reference": "Medication/included-1"}
            bundle["entry"].append(
                {
                    "fullUrl": "https://ehr.example.org/fhir/Medication/included-1",
                    "resource": {"resourceType": "Medication", "id": "included-1", "code": code},
                    "search": {"mode": "include"},
                }
            )
            break
    else:
        pytest.fail("the example has no active order named by a code")
    assert rules(evaluate(req, today=DAY)) == expected


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=12,
)
FIELDS = st.sampled_from(
    ["medicationCodeableConcept", "medicationReference", "medication", "contained"]
)


@settings(
    max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    fields=st.dictionaries(
        FIELDS,
        JSON
        | st.just({"reference": "#m"})
        | st.just(
            [
                {
                    "resourceType": "Medication",
                    "id": "m",
                    "ingredient": [
                        {"itemReference": {"reference": "#m"}},
                        None,
                        {"itemCodeableConcept": []},
                    ],
                }
            ]
        ),
        max_size=4,
    ),
    entries=st.lists(
        st.tuples(st.one_of(st.none(), st.just(UUID), st.text(max_size=5)), JSON), max_size=3
    ),
)
def test_the_resolver_never_raises(
    knowledge: Knowledge, fields: dict[str, Any], entries: list[tuple[Any, Any]]
) -> None:
    o = {"resourceType": "MedicationRequest", **fields}
    named = named_medication(o, Pool(entries))
    knowledge.drug_named(named)
    assert isinstance(named.names(), list)


def test_a_site_adds_a_multi_word_name_as_a_designation(tmp_path: Path) -> None:
    """Names are data: a brand added as a designation of the medication ValueSet is
    recognised as a whole phrase, with no change to the code."""
    for path in default_files():
        shutil.copy(path, tmp_path / path.name)
    vs_path = tmp_path / "ValueSet-baclofen-medications.json"
    vs = json.loads(vs_path.read_text())
    vs["compose"]["include"][0]["concept"][0]["designation"].append(
        {"language": "en-IN", "value": "Liofen XL"}
    )
    vs_path.write_text(json.dumps(vs))
    site = load_knowledge(tmp_path, include_default=False)
    plain = load_knowledge()
    text = order(medicationCodeableConcept={"text": "LIOFEN XL 20 mg tablet"})
    assert site.drug_named(named_medication(text)) is not None
    assert plain.drug_named(named_medication(text)) is None
    one_word = order(medicationCodeableConcept={"text": "Liofen 10"})
    assert site.drug_named(named_medication(one_word)) is None


def test_a_urn_uuid_entry_of_a_prefetch_bundle_resolves() -> None:
    drafts = _bundle((None, order(medicationReference={"reference": UUID})))
    extra = {
        "medications": {
            "resourceType": "Bundle",
            "type": "searchset",
            "entry": [{"fullUrl": UUID, "resource": ingredient_only(None, (RX, "1292", "x"))}],
        }
    }
    assert rules(evaluate(request(drafts, extra), today=DAY)) == BASELINE


def test_a_medication_prefetched_on_its_own_resolves() -> None:
    drafts = _bundle((None, order(medicationReference={"reference": "Medication/med-1"})))
    extra = {"medication": ingredient_only(None, (RX, "1292", "baclofen"))}
    assert rules(evaluate(request(drafts, extra), today=DAY)) == BASELINE
