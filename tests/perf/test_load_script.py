"""scripts/load.py sends what the service accepts, and only to loopback."""

from __future__ import annotations

import random
from datetime import date
from types import ModuleType
from typing import Any

import pytest

from fhir_module.hooks import handle_hook, parse_feedback, parse_hook_call
from fhir_module.knowledge import Knowledge

from .conftest import discovery_ids

DAY = date(2026, 11, 26)


def answered(load: ModuleType, knowledge: Knowledge) -> list[tuple[str, dict[str, Any]]]:
    out = []
    for template in load.example_requests().values():
        service, request = load.hook_request(template, discovery_ids(knowledge))
        out.append((service, handle_hook(knowledge, service, request, today=DAY)))
    return out


def test_every_example_becomes_a_valid_new_call(load: ModuleType, knowledge: Knowledge) -> None:
    templates = load.example_requests()
    assert templates
    ids = discovery_ids(knowledge)
    for template in templates.values():
        service, request = load.hook_request(template, ids)
        again = load.hook_request(template, ids)[1]
        assert service == ids[template["hook"]]
        assert request["hookInstance"] != template["hookInstance"] != again["hookInstance"]
        assert parse_hook_call(request, template["hook"]).hook_instance == request["hookInstance"]


def test_feedback_is_valid_and_names_a_card_and_its_suggestion(
    load: ModuleType, knowledge: Knowledge
) -> None:
    outcomes = set()
    for _, response in answered(load, knowledge):
        body = load.feedback_for(response, random.Random(7))
        if not response["cards"]:
            assert body is None
            continue
        (item,) = parse_feedback(body)
        card = next(c for c in response["cards"] if c["uuid"] == item.card)
        outcomes.add(item.outcome)
        if item.outcome == "accepted":
            offered = {s["uuid"] for s in card["suggestions"]}
            assert {s.id for s in item.acceptedSuggestions or []} <= offered
        else:
            assert not card.get("suggestions")
        # sent as the service stores it, so the load can find it in the database
        assert item.outcomeTimestamp == body["feedback"][0]["outcomeTimestamp"]
    assert outcomes == {"accepted", "overridden"}


@pytest.mark.parametrize("host", ["0.0.0.0", "10.0.0.1", "example.org", "::"])
def test_refuses_any_host_but_loopback(load: ModuleType, host: str) -> None:
    with pytest.raises(SystemExit) as exit_:
        load.arguments(["--host", host])
    assert exit_.value.code == 2


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost", "::1"])
def test_loopback_hosts_are_accepted(load: ModuleType, host: str) -> None:
    assert load.arguments(["--host", host]).host == host
