"""The examples never rot: every request is re-evaluated and compared with its saved response.

Set FHIR_MODULE_UPDATE_EXAMPLES=1 to rewrite the saved responses (and the knowledge Bundle)
after a deliberate change, then review the diff.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from fhir_module import evaluate, evaluate_bundle
from fhir_module._bundle import transaction_bundle
from fhir_module.knowledge import Knowledge

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
DAY = date(2026, 11, 26)  # the examples' "today"; every example order has its authoredOn
UPDATE = os.environ.get("FHIR_MODULE_UPDATE_EXAMPLES") == "1"
INPUTS = sorted(EXAMPLES.glob("*.request.json")) + sorted(EXAMPLES.glob("*.bundle.json"))


def without_uuids(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: without_uuids(v) for k, v in node.items() if k != "uuid"}
    if isinstance(node, list):
        return [without_uuids(v) for v in node]
    return node


def answer(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text())
    if path.name.endswith(".bundle.json"):
        return evaluate_bundle(document, today=DAY)
    return evaluate(document, today=DAY)


def saved(path: Path, fresh: Any) -> Any:
    """The saved copy; in update mode rewritten first, unless only uuids would change."""
    old = json.loads(path.read_text()) if path.exists() else None
    if UPDATE and without_uuids(old) != without_uuids(fresh):
        path.write_text(json.dumps(fresh, indent=2, ensure_ascii=False) + "\n")
        return fresh
    return old


@pytest.mark.parametrize("request_path", INPUTS, ids=[p.name.split(".")[0] for p in INPUTS])
def test_example(request_path: Path) -> None:
    response = answer(request_path)
    expected = saved(
        request_path.with_name(request_path.name.split(".")[0] + ".response.json"), response
    )
    assert without_uuids(response) == without_uuids(expected)
    check_cds_hooks_response(response)


def check_cds_hooks_response(response: dict[str, Any]) -> None:
    """The CDS Hooks 2.0.1 rules for cards, suggestions and links that these cards touch."""
    seen: set[str] = set()
    for card in response["cards"]:
        assert 0 < len(card["summary"]) < 140
        assert card["indicator"] in {"info", "warning", "critical"}
        assert card["source"]["label"] and card["source"]["topic"]["code"]
        for item in [card] + card.get("suggestions", []):
            assert str(uuid.UUID(item["uuid"])) == item["uuid"] and item["uuid"] not in seen
            seen.add(item["uuid"])
        for suggestion in card.get("suggestions", []):
            assert suggestion["label"] and suggestion["actions"]
            for action in suggestion["actions"]:
                assert action["type"] in {"create", "update", "delete"} and action["description"]
                if action["type"] == "delete":
                    assert all("/" in ref for ref in action["resourceId"])
                else:
                    assert action["resource"]["resourceType"]
        if card.get("suggestions"):
            assert card["selectionBehavior"] in {"at-most-one", "any"}
        if card["indicator"] != "info":
            assert all(r["code"] and r["system"] and r["display"] for r in card["overrideReasons"])
        for link in card.get("links", []):
            assert link["type"] == "absolute" and link["url"].startswith("https://")


def test_every_rule_has_an_example_and_both_hooks_are_shown(knowledge: Knowledge) -> None:
    rules, hooks = set(), set()
    for path in EXAMPLES.glob("*.response.json"):
        rules |= {c["source"]["topic"]["code"] for c in json.loads(path.read_text())["cards"]}
    for path in EXAMPLES.glob("*.request.json"):
        hooks.add(json.loads(path.read_text())["hook"])
    assert rules == {r.rule_id for r in knowledge.drugs[0].rules}
    assert hooks == {"order-select", "order-sign"}


def test_the_knowledge_bundle_example_is_current(knowledge: Knowledge) -> None:
    fresh = transaction_bundle(knowledge)
    assert saved(EXAMPLES / "knowledge-bundle.json", fresh) == fresh
