"""Hostile input: too large, too deep, too many entries -> 4xx with an OperationOutcome."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, create_app

from ._requests import baclofen_order, full_prefetch, hook_request, searchset
from .conftest import TestClient

SIGN = "/cds-services/medication-safety-order-sign"
FEEDBACK = f"{SIGN}/feedback"


@pytest.fixture
def small(tmp_path: Path, settings: Settings, knowledge: Knowledge) -> Any:
    """A service with small limits: 64 KiB bodies, 5 entries."""
    import dataclasses

    tight = dataclasses.replace(settings, max_body_bytes=64 * 1024, max_entries=5)
    with TestClient(create_app(tight, knowledge)) as client:
        yield client


def _outcome(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/fhir+json")
    outcome: dict[str, Any] = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == code
    return outcome


def test_the_default_body_limit_is_5_mib() -> None:
    assert Settings().max_body_bytes == 5 * 1024 * 1024 and Settings().max_entries == 1000


def test_a_large_body_gets_413(small: TestClient) -> None:
    request = hook_request()
    request["extension"] = {"padding": "x" * 70_000}
    _outcome(small.post(SIGN, json=request), 413, "too-costly")


def test_a_large_body_without_a_length_gets_413(small: TestClient) -> None:
    def chunks() -> Any:
        for _ in range(100):
            yield b" " * 1024

    _outcome(small.post(SIGN, content=chunks()), 413, "too-costly")


def test_a_large_feedback_gets_413(small: TestClient) -> None:
    _outcome(small.post(FEEDBACK, content=b"[" + b"0," * 40_000 + b"0]"), 413, "too-costly")


def test_too_many_draft_orders_get_413(small: TestClient) -> None:
    orders = [baclofen_order(f"mr-{i}") for i in range(6)]
    outcome = _outcome(
        small.post(SIGN, json=hook_request("order-sign", *orders)), 413, "too-costly"
    )
    assert outcome["issue"][0]["expression"] == ["context.draftOrders.entry"]
    assert small.post(SIGN, json=hook_request("order-sign", *orders[:5])).status_code == 200


def test_too_many_prefetch_entries_get_413(small: TestClient) -> None:
    prefetch = full_prefetch()
    prefetch["observations"] = searchset(*({"resourceType": "Basic"} for _ in range(6)))
    outcome = _outcome(small.post(SIGN, json=hook_request(prefetch=prefetch)), 413, "too-costly")
    assert outcome["issue"][0]["expression"] == ["prefetch.observations"]


@pytest.mark.parametrize(
    "counts, status",
    [([6], 413), ([3, 3], 413), ([1, 1, 1, 1, 2], 413), ([5], 200), ([2, 3], 200)],
)
def test_too_many_accepted_suggestions_in_all_get_413(
    small: TestClient, counts: list[int], status: int
) -> None:
    items = [
        {
            "card": "c",
            "outcome": "accepted",
            "outcomeTimestamp": f"2024-05-01T10:0{i}:00Z",
            "acceptedSuggestions": [{"id": "s"}] * n,
        }
        for i, n in enumerate(counts)
    ]
    answer = small.post(FEEDBACK, json={"feedback": items})
    assert answer.status_code == status
    if status == 413:
        issue = _outcome(answer, 413, "too-costly")["issue"][0]
        assert issue["expression"] == [f"feedback[{len(counts) - 1}].acceptedSuggestions"]


def test_too_many_feedback_items_get_413(small: TestClient) -> None:
    item = {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2024-05-01T10:00:00Z"}
    _outcome(small.post(FEEDBACK, json={"feedback": [item] * 6}), 413, "too-costly")
    assert small.post(FEEDBACK, json={"feedback": [item] * 5}).status_code == 200


@pytest.mark.parametrize("where", ["extension", "prefetch", "order"])
def test_deep_nesting_gets_400(client: TestClient, where: str) -> None:
    deep: Any = "bottom"
    for _ in range(100):  # 200 levels: more than the service takes, less than json encodes
        deep = {"a": [deep]}
    request = hook_request()
    if where == "extension":
        request["extension"] = deep
    elif where == "prefetch":
        request["prefetch"]["patient"]["extension"] = deep
    else:
        request["context"]["draftOrders"]["entry"][0]["resource"]["note"] = deep
    _outcome(client.post(SIGN, json=request), 400, "structure")


def test_very_deep_json_gets_400(client: TestClient) -> None:
    body = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    _outcome(client.post(SIGN, content=body), 400, "structure")
    _outcome(client.post(FEEDBACK, content=body), 400, "structure")


@pytest.mark.parametrize(
    "bundle",
    [
        {"resourceType": "Bundle", "entry": 5},
        {"resourceType": "Bundle", "entry": [5]},
        {"resourceType": "Bundle", "entry": [{"resource": {"resourceType": 7}}]},
        {"resourceType": "Bundle", "link": {"relation": "next"}},
        {"resourceType": "Bundle", "link": ["next"]},
    ],
)
def test_wrong_types_in_a_prefetch_bundle_get_400(
    client: TestClient, bundle: dict[str, Any]
) -> None:
    prefetch = full_prefetch()
    prefetch["observations"] = bundle
    outcome = _outcome(client.post(SIGN, json=hook_request(prefetch=prefetch)), 400, "structure")
    assert outcome["issue"][0]["expression"][0].startswith("prefetch.observations")
    assert json.dumps(bundle) not in json.dumps(outcome)
