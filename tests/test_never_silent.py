"""Never silent: an order is not the drug (no card), judged, or the drug but not fully
readable (a card saying what was not checked). So the same order, however it is encoded,
must give the same rules.

Every example is re-sent with its orders (drafts and the patient's other orders) rewritten
into each equivalent encoding real feeds use (a contained Medication, a Bundle entry by
urn:uuid, an ingredient-only Medication, an R5 CodeableReference, '{pill}' for tablets),
alone and mixed at random per order, and must give the same rule ids.
"""

from __future__ import annotations

import copy
import json
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fhir_module import evaluate, evaluate_bundle
from fhir_module.knowledge import Knowledge

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DAY = date(2026, 11, 26)
INPUTS = sorted(EXAMPLES.glob("*.request.json")) + sorted(EXAMPLES.glob("*.bundle.json"))
SCT = "http://snomed.info/sct"
BACLOFEN_SUBSTANCE = {"coding": [{"system": SCT, "code": "387342009", "display": "Baclofen"}]}

Entries = list[dict[str, Any]]
Encoding = Callable[[dict[str, Any], Entries, Knowledge], None]


def _urn(order: dict[str, Any]) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, json.dumps(order, sort_keys=True))}"


def _take_medication(order: dict[str, Any], entries: Entries) -> dict[str, Any] | None:
    """The order's medication as a Medication resource, detached from the order (its
    contained copy or Bundle entry removed); None when it names it by a concept no longer."""
    r5 = order.pop("medication", None)
    if isinstance(r5, dict):  # an R5 CodeableReference: read as its R4 equivalent
        if isinstance(r5.get("concept"), dict):
            order["medicationCodeableConcept"] = r5["concept"]
        if isinstance(r5.get("reference"), dict):
            order["medicationReference"] = r5["reference"]
    concept = order.pop("medicationCodeableConcept", None)
    if isinstance(concept, dict):
        return {"resourceType": "Medication", "code": concept}
    ref = order.get("medicationReference")
    target = ref.get("reference") if isinstance(ref, dict) else None
    if isinstance(target, str) and target.startswith("#"):
        contained = order.get("contained") or []
        for res in contained:
            if res.get("id") == target[1:] and res.get("resourceType") == "Medication":
                contained.remove(res)
                if not contained:
                    order.pop("contained")
                del order["medicationReference"]
                return dict(res)
    for entry in entries if isinstance(target, str) else []:
        if entry.get("fullUrl") == target and entry["resource"]["resourceType"] == "Medication":
            entries.remove(entry)
            del order["medicationReference"]
            return dict(entry["resource"])
    return None


def contained(order: dict[str, Any], entries: Entries, knowledge: Knowledge) -> None:
    medication = _take_medication(order, entries)
    if medication is not None:
        medication["id"] = "med-c"
        order.setdefault("contained", []).append(medication)
        order["medicationReference"] = {"reference": "#med-c"}


def bundle_urn(order: dict[str, Any], entries: Entries, knowledge: Knowledge) -> None:
    medication = _take_medication(order, entries)
    if medication is not None:
        medication.pop("id", None)
        urn = _urn(order)
        entries.append({"fullUrl": urn, "resource": medication})
        order["medicationReference"] = {"reference": urn}


def r5_reference(order: dict[str, Any], entries: Entries, knowledge: Knowledge) -> None:
    if "medication" in order:
        # Already R5: the R4 shape is the equivalent encoding.
        r5 = order.pop("medication")
        if isinstance(r5.get("concept"), dict):
            order["medicationCodeableConcept"] = r5["concept"]
        if isinstance(r5.get("reference"), dict):
            order["medicationReference"] = r5["reference"]
        return
    concept = order.pop("medicationCodeableConcept", None)
    reference = order.pop("medicationReference", None)
    order["medication"] = {"concept": concept} if concept is not None else {"reference": reference}


def generic_form(knowledge: Knowledge, route: str, product_form: Any) -> dict[str, Any]:
    """A dose form of the knowledge's form-<route> ValueSet that is not the product's own
    (a plain 'Tablet', say); for a route no dose form implies, the form only in words."""
    own = {(c.get("system"), c.get("code")) for c in (product_form or {}).get("coding", [])}
    vs = knowledge.by_url.get(f"http://fhir-module.org/fhir/ValueSet/form-{route}")
    for include in vs.resource["compose"]["include"] if vs else []:
        for concept in include.get("concept", []):
            if (include["system"], concept["code"]) not in own:
                coding = {"system": include["system"], "code": concept["code"]}
                return {"coding": [coding | {"display": concept["display"]}]}
    return {"text": str((product_form or {}).get("text") or "solution")}


def ingredient_only(order: dict[str, Any], entries: Entries, knowledge: Knowledge) -> None:
    """The product code replaced by a Medication with no code: a generic dose form of the
    product's route and the ingredient with the product's strength, as many national
    formularies send it."""
    medication = _take_medication(order, entries)
    if medication is None:
        return
    code = medication.get("code") or {}
    product = knowledge.product_for(code)
    if product is None:
        # Not a product of the knowledge: its code becomes the ingredient, the rest is kept.
        rest = {k: v for k, v in medication.items() if k != "code"}
        rest["id"] = "med-i"
        rest["ingredient"] = [*(medication.get("ingredient") or []), {"itemCodeableConcept": code}]
        order.setdefault("contained", []).append(rest)
        order["medicationReference"] = {"reference": "#med-i"}
        return
    known = knowledge.by_key[f"MedicationKnowledge/{product.id}"].resource
    rewritten = {
        "resourceType": "Medication",
        "id": "med-i",
        "form": generic_form(knowledge, product.route, known.get("doseForm")),
        "ingredient": [
            {
                "itemCodeableConcept": BACLOFEN_SUBSTANCE,
                "isActive": True,
                "strength": {
                    "numerator": {
                        "value": float(product.strength_mg),
                        "unit": "mg",
                        "system": "http://unitsofmeasure.org",
                        "code": "mg",
                    },
                    "denominator": {
                        "value": 1,
                        "system": "http://unitsofmeasure.org",
                        "code": product.per_unit,
                    },
                },
            }
        ],
    }
    order.setdefault("contained", []).append(rewritten)
    order["medicationReference"] = {"reference": "#med-i"}


def pill_units(order: dict[str, Any], entries: Entries, knowledge: Knowledge) -> None:
    """Doses in tablets sent as the CDS Hooks sandbox sends them: '{pill}', no unit text."""
    for dosage in order.get("dosageInstruction") or []:
        for entry in dosage.get("doseAndRate") or [] if isinstance(dosage, dict) else []:
            quantity = entry.get("doseQuantity") if isinstance(entry, dict) else None
            if isinstance(quantity, dict) and quantity.get("code") == "{tbl}":
                quantity.pop("unit", None)
                quantity["code"] = "{pill}"


ENCODINGS: dict[str, Encoding] = {
    "contained": contained,
    "bundle-urn-uuid": bundle_urn,
    "ingredient-only": ingredient_only,
    "r5-codeable-reference": r5_reference,
    "pill-units": pill_units,
}


def _document(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def _entries(document: dict[str, Any]) -> Entries:
    if document.get("resourceType") == "Bundle":
        entries: Entries = document["entry"]
    else:
        entries = document["context"]["draftOrders"]["entry"]
    return entries


def _answer(document: dict[str, Any]) -> list[str]:
    if document.get("resourceType") == "Bundle":
        response = evaluate_bundle(document, today=DAY)
    else:
        response = evaluate(document, today=DAY)
    return sorted(c["source"]["topic"]["code"] for c in response["cards"])


def rewritten(
    document: dict[str, Any], choose: Callable[[int], Encoding], knowledge: Knowledge
) -> dict[str, Any]:
    """A copy of the document with every MedicationRequest rewritten: the draft orders and
    the patient's other orders (in the prefetch, or in the Bundle), each in its own Bundle."""
    document = copy.deepcopy(document)
    groups = [_entries(document)]
    prefetch = document.get("prefetch") or {}
    groups += [
        v["entry"]
        for v in prefetch.values()
        if isinstance(v, dict) and v.get("resourceType") == "Bundle" and v.get("entry")
    ]
    orders = [
        (e["resource"], entries)
        for entries in groups
        for e in entries
        if e["resource"]["resourceType"] == "MedicationRequest"
    ]
    for i, (order, entries) in enumerate(orders):
        choose(i)(order, entries, knowledge)
    return document


ORIGINALS = {p.name: _document(p) for p in INPUTS}
EXPECTED = {name: _answer(doc) for name, doc in ORIGINALS.items()}


@pytest.mark.parametrize("encoding", list(ENCODINGS))
@pytest.mark.parametrize("name", list(ORIGINALS))
def test_every_example_in_every_encoding_gives_the_same_rules(
    knowledge: Knowledge, name: str, encoding: str
) -> None:
    document = rewritten(ORIGINALS[name], lambda _: ENCODINGS[encoding], knowledge)
    assert document != ORIGINALS[name] or encoding == "pill-units"
    assert _answer(document) == EXPECTED[name]


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    name=st.sampled_from(sorted(ORIGINALS)),
    choices=st.lists(st.sampled_from(sorted(ENCODINGS)), min_size=1, max_size=4),
)
def test_encodings_mixed_order_by_order_give_the_same_rules(
    knowledge: Knowledge, name: str, choices: list[str]
) -> None:
    document = rewritten(ORIGINALS[name], lambda i: ENCODINGS[choices[i % len(choices)]], knowledge)
    assert _answer(document) == EXPECTED[name]
