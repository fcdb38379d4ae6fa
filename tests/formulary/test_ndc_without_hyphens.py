"""An NDC of 10 digits written without hyphens ('5766405030') does not say where its labeler,
product and package end: it may be 4-4-2, 5-3-2 or 5-4-1. An order coded with one alone is
the product of whichever layout the knowledge names, through the same path as any other NDC
(a product's codes, a medication ValueSet's, a patient-fact ValueSet's); when the layouts
name several products, the order is an order of every drug they belong to and of none of
the products, so each drug says its dose could not be checked. In the knowledge itself such
a code is refused at load, with the way to write it."""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fhir_module import KnowledgeError, evaluate
from fhir_module.knowledge import Knowledge, load_knowledge

from ._derive import EXAMPLES, RXNORM, Derived, cards_by_rule, derive, order, request, write

ROOT = Path(__file__).resolve().parents[2]
TIZANIDINE = ROOT / "modules" / "tizanidine"
NDC = "http://hl7.org/fhir/sid/ndc"
TODAY = date(2026, 11, 26)
#: the example order of 4 tizanidine 4 mg tablets three times a day (48 mg/day)
MAX_DOSE = EXAMPLES / "tizanidine" / "order-sign-max-daily-dose.request.json"
OVER = ("max-daily-dose", "Tizanidine 48 mg/day exceeds the 36 mg/day maximum")


def _ndc(code: str) -> dict[str, Any]:
    """A medication coded by an NDC alone, as a pharmacy system sends it: no name to find."""
    return {"coding": [{"system": NDC, "code": code}]}


def _ten_digits(written: str) -> str | None:
    """The 10-digit package code without hyphens of an NDC the knowledge writes with them
    (a product code gets a package number), or None for an 11-digit or unhyphenated one."""
    parts = written.split("-")
    if len(parts) == 2 and len(parts[0]) + len(parts[1]) in (8, 9):
        parts.append("01" if len(parts[0]) + len(parts[1]) == 8 else "1")
    digits = "".join(parts)
    return digits if len(parts) == 3 and len(digits) == 10 else None


def _with_order_code(code: str) -> dict[str, Any]:
    found = json.loads(MAX_DOSE.read_text(encoding="utf-8"))
    found["context"]["draftOrders"]["entry"][0]["resource"]["medicationCodeableConcept"] = _ndc(
        code
    )
    return found


# ----- one product: the order is that product, by the CLI and the Python API


@pytest.mark.parametrize(
    "code",
    [
        "5766450313",  # 57664-503-13: 5-3-2
        "5766405030",  # 57664-0503-0: 5-4-1 (the layouts 4-4-2 and 5-3-2 name no product)
    ],
)
def test_the_cli_reads_a_tizanidine_tablet_ndc_without_hyphens(tmp_path: Path, code: str) -> None:
    path = tmp_path / "request.json"
    path.write_text(json.dumps(_with_order_code(code)), encoding="utf-8")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "fhir_module",
            "evaluate",
            "--knowledge",
            str(TIZANIDINE),
            "--date",
            "2026-11-26",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    # 4 tablets of the 4 mg tablet's strength, three times a day
    assert OVER in cards_by_rule(json.loads(done.stdout))


@pytest.fixture(scope="module")
def formulary() -> Knowledge:
    return load_knowledge(TIZANIDINE)


def _written_ndcs(knowledge: Knowledge) -> list[tuple[str, str]]:
    """(the NDC as a product writes it, the product's id) for every product loaded: the
    built-in baclofen module's and tizanidine's."""
    return sorted(
        (code, product.id)
        for (system, code), product in knowledge.products.items()
        if system == NDC and _ten_digits(code) is not None
    )


def test_every_product_ndc_without_hyphens_is_that_product(formulary: Knowledge) -> None:
    written = _written_ndcs(formulary)
    assert len(written) >= 7  # tizanidine's products' NDCs at least
    for code, product_id in written:
        digits = _ten_digits(code)
        assert digits is not None
        concept = _ndc(digits)
        found = formulary.product_for(concept)
        assert found is not None and found.id == product_id, (code, digits)
        drug = next(
            d for d in formulary.drugs if any(p.id == product_id for p in d.terms.products.values())
        )
        draft = order("mr-1", concept, tablets=100, times=1)  # above any maximum
        response = evaluate(request(draft), knowledge=formulary, today=TODAY)
        labels = {c["source"]["label"] for c in response["cards"]}
        assert labels and all(label.startswith(drug.plan_title) for label in labels), (
            code,
            labels,
        )


def test_each_tizanidine_product_gives_its_own_strength(formulary: Knowledge) -> None:
    # (NDC written in the knowledge, tablets or capsules a dose): 48 mg a day in 4 doses
    for written, units in (("57664-502", 6), ("70710-1111", 6), ("72189-678", 2)):
        digits = _ten_digits(written)
        assert digits is not None
        draft = order("mr-1", _ndc(digits), tablets=units, times=4)
        response = evaluate(request(draft), knowledge=formulary, today=TODAY)
        assert OVER in cards_by_rule(response), (written, cards_by_rule(response))


# ----- several products: every drug they belong to, none of the products


def _zoraaine_with_ndc(tmp_path: Path, code: str, *, in_product: bool) -> Derived:
    """A site's drug whose 10 mg tablet (or medication ValueSet) has the NDC `code`."""
    zoraaine = derive(tmp_path / "zoraaine", "zoraaine", 31)
    if in_product:
        zoraaine.edit(
            zoraaine.file("MedicationKnowledge", "-10mg-tablet"),
            lambda r: r["code"]["coding"].append({"system": NDC, "code": code}),
        )
    else:

        def change(vs: dict[str, Any]) -> None:
            vs["compose"]["include"].append({"system": NDC, "concept": [{"code": code}]})

        zoraaine.edit(zoraaine.file("ValueSet", "-medications"), change)
    return zoraaine


@pytest.mark.parametrize("in_product", [True, False], ids=["product", "value-set"])
def test_an_ndc_two_drugs_products_fit_is_an_order_of_both_and_of_neither_product(
    tmp_path: Path, in_product: bool
) -> None:
    # 5766405030 is 57664-0503-0 (tizanidine 4 mg tablet, 5-4-1) and 57664-050-30 (5-3-2),
    # here zoraaine's; written with hyphens, each is its own product
    zoraaine = _zoraaine_with_ndc(tmp_path, "57664-050", in_product=in_product)
    knowledge = load_knowledge(TIZANIDINE, zoraaine.folder)
    concept = _ndc("5766405030")
    assert knowledge.product_for(concept) is None
    draft = order("mr-1", concept, tablets=4, times=3)
    response = evaluate(request(draft), knowledge=knowledge, today=TODAY)
    found = {c["source"]["label"].split()[0]: c for c in response["cards"]}
    assert set(found) == {"Tizanidine", "Zoraaine"}, cards_by_rule(response)
    for card in found.values():
        assert card["source"]["topic"]["code"] == "dose-unverifiable"
        assert (
            "the NDC 5766405030 is written without hyphens and may be the product 57664-0050 "
            "or 57664-0503, so which product it is cannot be told"
        ) in card["detail"]
    assert not any(c["source"]["topic"]["code"] == "max-daily-dose" for c in response["cards"])
    # written with its hyphens, each layout is one product again
    for code, drug in (("57664-0503-0", "Tizanidine"), ("57664-050-30", "Zoraaine")):
        response = evaluate(
            request(order("mr-1", _ndc(code), tablets=4, times=3)),
            knowledge=knowledge,
            today=TODAY,
        )
        labels = {c["source"]["label"].split()[0] for c in response["cards"]}
        assert labels == {drug}, (code, labels)


def test_an_ndc_in_a_medication_value_set_only_routes_the_order(tmp_path: Path) -> None:
    zoraaine = _zoraaine_with_ndc(tmp_path, "12345-678", in_product=False)
    knowledge = load_knowledge(zoraaine.folder)
    draft = order("mr-1", _ndc("1234567801"), mg=40, times=3)  # 120 mg a day
    response = evaluate(request(draft), knowledge=knowledge, today=TODAY)
    assert ("max-daily-dose", "Zoraaine 120 mg/day exceeds the 100 mg/day oral maximum") in (
        cards_by_rule(response)
    )


def test_an_ndc_without_hyphens_on_record_is_in_a_fact_value_set(tmp_path: Path) -> None:
    """A site lists ciprofloxacin's NDC product 0143-9928 among the potent CYP1A2
    inhibitors; the patient's active order on record codes it 0143992801 (4-4-2)."""
    folder = tmp_path / "tizanidine"
    shutil.copytree(TIZANIDINE, folder)
    path = folder / "ValueSet-cyp1a2-potent-inhibitors.json"
    vs = json.loads(path.read_text(encoding="utf-8"))
    vs["compose"]["include"].append(
        {"system": NDC, "concept": [{"code": "0143-9928", "display": "Ciprofloxacin 500 mg"}]}
    )
    path.write_text(json.dumps(vs), encoding="utf-8")
    knowledge = load_knowledge(folder)
    call = request(order("mr-1", {"coding": [{"system": RXNORM, "code": "313412"}]}, times=1))
    on_record = order("mr-cip", _ndc("0143992801"), tablets=1, times=2)
    on_record["status"] = "active"
    on_record["authoredOn"] = "2026-11-01"
    call["prefetch"]["medications"]["entry"] = [{"resource": on_record}]
    response = evaluate(call, knowledge=knowledge, today=TODAY)
    summaries = [c["summary"] for c in response["cards"]]
    assert any(
        s.startswith("Tizanidine with Ciprofloxacin 500 mg: contraindicated") for s in summaries
    ), summaries


# ----- in the knowledge: refused, saying how to write it


def _tizanidine_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "tizanidine"
    shutil.copytree(TIZANIDINE, folder)
    return folder


def test_a_product_ndc_without_hyphens_is_refused_at_load(tmp_path: Path) -> None:
    folder = _tizanidine_copy(tmp_path)
    path = folder / "MedicationKnowledge-tizanidine-4mg-tablet.json"
    product = json.loads(path.read_text(encoding="utf-8"))
    coding = next(c for c in product["code"]["coding"] if c["system"] == NDC)
    coding["code"] = "5766450313"
    path.write_text(json.dumps(product), encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(folder)
    assert (caught.value.file, caught.value.element) == (path.name, "code.coding[1].code")
    assert (
        "'5766450313' is an NDC of 10 digits without hyphens, which may be written 4-4-2, "
        "5-3-2 or 5-4-1, so its product cannot be told: write it with its hyphens, or as the "
        "11-digit code"
    ) in str(caught.value)


def test_a_value_set_ndc_without_hyphens_is_refused_at_load(tmp_path: Path) -> None:
    folder = _tizanidine_copy(tmp_path)
    path = folder / "ValueSet-tizanidine-medications.json"
    vs = json.loads(path.read_text(encoding="utf-8"))
    include = next(i for i in vs["compose"]["include"] if i["system"] == NDC)
    include["concept"][0]["code"] = "5766450201"
    path.write_text(json.dumps(vs), encoding="utf-8")
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(folder)
    assert caught.value.file == path.name
    assert "'5766450201' is an NDC of 10 digits without hyphens" in str(caught.value)


def test_a_combination_ndc_without_hyphens_is_refused_at_load(tmp_path: Path) -> None:
    zoraaine = derive(tmp_path / "zoraaine", "zoraaine", 32)
    zorabine = derive(tmp_path / "zorabine", "zorabine", 33)
    combination: dict[str, Any] = {
        "resourceType": "MedicationKnowledge",
        "id": "zoraaine-zorabine",
        "code": {"coding": [{"system": NDC, "code": "1234567801"}], "text": "zoraaine/zorabine"},
        "status": "active",
        "ingredient": [
            {
                "itemCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": d.code(RXNORM, "1292")}]
                }
            }
            for d in (zoraaine, zorabine)
        ],
    }
    path = write(tmp_path / "combinations", combination)
    with pytest.raises(KnowledgeError) as caught:
        load_knowledge(zoraaine.folder, zorabine.folder, path.parent)
    assert (caught.value.file, caught.value.element) == (path.name, "code.coding[0].code")
    assert "is an NDC of 10 digits without hyphens" in str(caught.value)
    # with its hyphens it loads, and the order without them is the combination
    fixed = copy.deepcopy(combination)
    fixed["code"]["coding"][0]["code"] = "12345-678-01"
    write(tmp_path / "combinations", fixed)
    knowledge = load_knowledge(zoraaine.folder, zorabine.folder, path.parent)
    draft = order("mr-1", _ndc("1234567801"), mg=1000, times=1)  # above any maximum
    response = evaluate(request(draft), knowledge=knowledge, today=TODAY)
    labels = {c["source"]["label"].split()[0] for c in response["cards"]}
    assert labels == {"Zoraaine", "Zorabine"}, labels
