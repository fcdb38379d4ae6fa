"""Orders routed to drugs by the index built at load: a code over a name whatever the load
order, every drug of a combination (a declared combination product, a Medication of two
ingredients), names of several words in order text, each order matched once per call."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_module import evaluate
from fhir_module.hooks import handle_hook
from fhir_module.knowledge import Knowledge, default_files, load_knowledge

from ._derive import RXNORM, Derived, cards_by_rule, derive, order, request, tablet, write


def _drugs_carded(response: dict[str, Any]) -> set[str]:
    return {c["source"]["label"].split(" order safety")[0].lower() for c in response["cards"]}


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> tuple[Derived, Derived]:
    root = tmp_path_factory.mktemp("two")
    return derive(root / "zoraaine", "zoraaine", 1), derive(root / "zorabine", "zorabine", 2)


@pytest.mark.parametrize("reverse", [False, True], ids=["a-then-b", "b-then-a"])
def test_a_code_wins_over_a_name_in_either_load_order(
    two: tuple[Derived, Derived], reverse: bool
) -> None:
    a, b = two
    folders = [b.folder, a.folder] if reverse else [a.folder, b.folder]
    knowledge = load_knowledge(*folders)
    # A's code, B's name in the display and the text: A's order, not B's.
    concept = tablet(a)
    concept["coding"][0]["display"] = "zorabine 10 MG Oral Tablet"
    concept["text"] = "Zorabine 10 mg tablet"
    response = evaluate(request(order("mr-1", concept)), knowledge=knowledge)
    assert _drugs_carded(response) == {"zoraaine"}
    assert ("max-daily-dose", "Zoraaine 160 mg/day exceeds the 100 mg/day oral maximum") in (
        cards_by_rule(response)
    )
    # B's code with A's name: B's.
    concept = tablet(b)
    concept["text"] = "zoraaine 10 mg"
    response = evaluate(request(order("mr-1", concept)), knowledge=knowledge)
    assert _drugs_carded(response) == {"zorabine"}


def test_a_name_alone_routes_the_order(two: tuple[Derived, Derived]) -> None:
    knowledge = load_knowledge(*(d.folder for d in two))
    response = evaluate(
        request(order("mr-1", {"text": "Zorabine 10 mg comprimé"})), knowledge=knowledge
    )
    assert _drugs_carded(response) == {"zorabine"}


@pytest.fixture(scope="module")
def acide(tmp_path_factory: pytest.TempPathFactory) -> Knowledge:
    root = tmp_path_factory.mktemp("acide")
    derive(root / "acide", "acide formulique", 3)
    return load_knowledge(root / "acide")


@pytest.mark.parametrize(
    "text",
    [
        "Acide formulique 10 mg comprimé",
        "ACIDE-FORMULIQUE 10 mg comprimé",
        "acide  formulique, comprimé 10 mg",
    ],
)
def test_a_two_word_name_is_matched_in_order_text(acide: Knowledge, text: str) -> None:
    response = evaluate(request(order("mr-1", {"text": text})), knowledge=acide)
    summary = "Acide formulique 160 mg/day exceeds the 100 mg/day oral maximum"
    assert ("max-daily-dose", summary) in cards_by_rule(response)
    assert _drugs_carded(response) == {"acide formulique"}


@pytest.mark.parametrize("text", ["Acide 10 mg comprimé", "formulique 10 mg", "acide folique"])
def test_one_word_of_a_two_word_name_is_no_match(acide: Knowledge, text: str) -> None:
    assert evaluate(request(order("mr-1", {"text": text})), knowledge=acide) == {"cards": []}


def _combination(folder: Path, derived: Derived, code: str) -> Path:
    """A MedicationKnowledge declaring the combination product `code` of baclofen and the
    derived drug: its ingredients coded with each drug's substance code."""
    substance = derived.code(RXNORM, "1292")
    return write(
        folder,
        {
            "resourceType": "MedicationKnowledge",
            "id": f"baclofen-{derived.slug}-combination",
            "code": {
                "coding": [{"system": RXNORM, "code": code, "display": "combination tablet"}],
                "text": f"baclofen 10 MG / {derived.name} 10 MG Oral Tablet",
            },
            "status": "active",
            "ingredient": [
                {
                    "itemCodeableConcept": {
                        "coding": [{"system": RXNORM, "code": "1292", "display": "baclofen"}]
                    },
                    "isActive": True,
                },
                {
                    "itemCodeableConcept": {
                        "coding": [{"system": RXNORM, "code": substance, "display": derived.name}]
                    },
                    "isActive": True,
                },
            ],
        },
    )


def _add_medication(derived: Derived, path: Path, code: str, display: str) -> None:
    def change(vs: dict[str, Any]) -> None:
        rxnorm = next(i for i in vs["compose"]["include"] if i["system"] == RXNORM)
        rxnorm["concept"].append({"code": code, "display": display})

    derived.edit(path, change)


def _both_maxima(response: dict[str, Any], name: str) -> None:
    found = cards_by_rule(response)
    assert ("max-daily-dose", "Baclofen 160 mg/day exceeds the 100 mg/day oral maximum") in found
    assert ("max-daily-dose", f"{name} 160 mg/day exceeds the 100 mg/day oral maximum") in found
    assert _drugs_carded(response) == {"baclofen", name.lower()}


def test_a_declared_combination_product_gets_both_drugs_rules(tmp_path: Path) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 4)
    combination = "990999001"
    # Listed in both drugs' medication ValueSets: the site's own copy of baclofen's too.
    _add_medication(derived, derived.file("ValueSet", "-medications"), combination, "combo")
    site = tmp_path / "site-baclofen"
    site.mkdir()
    for path in default_files():
        (site / path.name).write_bytes(path.read_bytes())
    _add_medication(derived, site / "ValueSet-baclofen-medications.json", combination, "combo")
    _combination(tmp_path / "combinations", derived, combination)
    knowledge = load_knowledge(site, derived.folder, tmp_path / "combinations", builtin=False)
    concept = {"coding": [{"system": RXNORM, "code": combination}]}
    response = evaluate(request(order("mr-1", concept, mg=40)), knowledge=knowledge)
    _both_maxima(response, "Zoraaine")


def test_a_combination_known_only_by_its_medication_knowledge(tmp_path: Path) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 5)
    _combination(tmp_path / "combinations", derived, "990999002")
    knowledge = load_knowledge(derived.folder, tmp_path / "combinations")
    concept = {"coding": [{"system": RXNORM, "code": "990999002"}], "text": "combo 10/10"}
    response = evaluate(request(order("mr-1", concept, mg=40)), knowledge=knowledge)
    _both_maxima(response, "Zoraaine")


def test_a_medication_of_two_ingredients_gets_both_drugs_rules(
    two: tuple[Derived, Derived],
) -> None:
    a = two[0]
    knowledge = load_knowledge(a.folder)
    medication = {
        "resourceType": "Medication",
        "id": "med-combo",
        "code": {"text": "compounded muscle relaxant capsule"},
        "ingredient": [
            {
                "itemCodeableConcept": {
                    "coding": [{"system": RXNORM, "code": "1292", "display": "baclofen"}]
                }
            },
            {
                "itemCodeableConcept": {
                    "coding": [
                        {"system": RXNORM, "code": a.code(RXNORM, "1292"), "display": "zoraaine"}
                    ]
                }
            },
        ],
    }
    draft = order("mr-1", medication="Medication/med-combo", mg=40)
    response = evaluate(request(draft, medication), knowledge=knowledge)
    _both_maxima(response, "Zoraaine")
    # Each drug's suggestion changes the same order; the cards stay one per drug.
    assert len(response["cards"]) == len({json.dumps(c["summary"]) for c in response["cards"]})


def test_each_order_is_matched_once_per_call(
    two: tuple[Derived, Derived], monkeypatch: pytest.MonkeyPatch
) -> None:
    knowledge = load_knowledge(*(d.folder for d in two))
    calls: list[Any] = []
    real = Knowledge.drugs_named

    def counted(self: Knowledge, named: Any) -> Any:
        calls.append(named)
        return real(self, named)

    monkeypatch.setattr(Knowledge, "drugs_named", counted)
    body = request(order("mr-1", tablet(two[0])), order("mr-2", tablet(None), tablets=1))
    on_record = order("mr-0", tablet(None), tablets=1)
    on_record["status"] = "active"
    body["prefetch"]["medications"]["entry"] = [{"resource": on_record}]
    first = handle_hook(knowledge, None, body)
    assert len(calls) == 3  # two drafts, one order on record: each once
    assert first["cards"]
    handle_hook(knowledge, None, body)
    assert len(calls) == 6  # a new call matches its orders again
