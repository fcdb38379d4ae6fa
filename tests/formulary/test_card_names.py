"""Every card names its drug, in source.label and in its summary (under 140 characters): in
every saved example response of baclofen and tizanidine, and for a module whose texts do
not say the name."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_module import evaluate
from fhir_module.knowledge import Drug, Knowledge, load_knowledge

from ._derive import EXAMPLES, ROOT, Derived, cards_by_rule, derive, order, request, tablet

RESPONSES = sorted(EXAMPLES.glob("*.response.json")) + sorted(
    (EXAMPLES / "tizanidine").glob("*.response.json")
)


@pytest.fixture(scope="module")
def shipped() -> Knowledge:
    return load_knowledge(ROOT / "modules" / "tizanidine")


def _drug_of(knowledge: Knowledge, card: dict[str, Any]) -> Drug:
    topic = card["source"]["topic"]
    [drug] = [d for d in knowledge.drugs if (topic["system"], topic["code"]) in d.rule_displays]
    return drug


def test_there_are_example_responses_of_both_drugs() -> None:
    assert len(RESPONSES) > 40
    assert any(p.parent.name == "tizanidine" for p in RESPONSES)


@pytest.mark.parametrize(
    "path", RESPONSES, ids=[f"{p.parent.name}/{p.name.split('.')[0]}" for p in RESPONSES]
)
def test_every_card_names_its_drug(shipped: Knowledge, path: Path) -> None:
    for card in json.loads(path.read_text(encoding="utf-8"))["cards"]:
        drug = _drug_of(shipped, card)
        assert len(card["summary"]) <= 140
        assert drug.names_in(card["summary"]), (drug.name, card["summary"])
        assert drug.names_in(card["source"]["label"]), (drug.name, card["source"]["label"])
        others = [d for d in shipped.drugs if d is not drug]
        assert not any(d.names_in(card["source"]["label"]) for d in others)


@pytest.fixture(scope="module")
def unnamed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Derived, Knowledge]:
    """A module whose PlanDefinition title and maximum-dose summary omit the drug's name."""
    derived = derive(tmp_path_factory.mktemp("unnamed") / "zoraaine", "zoraaine", 1)

    def change(plan: dict[str, Any]) -> None:
        plan["title"] = "Muscle relaxant order safety"
        for action in plan["action"]:
            if action["code"][0]["coding"][0]["code"] == "max-daily-dose":
                # the template and the FHIRPath it stands for (dynamicValue action.title)
                action["title"] = action["title"].replace("Zoraaine ", "The daily dose ")
                for value in action["dynamicValue"]:
                    if value["path"] == "action.title":
                        value["expression"]["expression"] = value["expression"][
                            "expression"
                        ].replace("'Zoraaine '", "'The daily dose '")

    derived.edit(derived.file("PlanDefinition", "-order-safety"), change)
    return derived, load_knowledge(derived.folder)


def test_a_card_whose_texts_omit_the_drug_is_given_its_name(
    unnamed: tuple[Derived, Knowledge],
) -> None:
    derived, knowledge = unnamed
    response = evaluate(request(order("mr-1", tablet(derived))), knowledge=knowledge)
    [card] = [c for c in response["cards"] if c["source"]["topic"]["code"] == "max-daily-dose"]
    assert card["source"]["label"] == "Zoraaine: Muscle relaxant order safety (version 0.1.0)"
    assert card["summary"] == (
        "Zoraaine: The daily dose 160 mg/day exceeds the 100 mg/day oral maximum"
    )
    assert len(card["summary"]) <= 140
    # A summary that names it is left as written.
    starting = "New zoraaine start at 160 mg/day is above the 15 mg/day starting dose"
    assert ("starting-dose", starting) in cards_by_rule(response)
