"""Numbers of thousands of digits and times at the calendar's edge: a 400 or a card, never 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ._requests import baclofen_order, hook_request, rule_ids
from .conftest import TestClient

SIGN = "/cds-services/medication-safety-order-sign"
FEEDBACK = f"{SIGN}/feedback"
DIGITS_4299 = "9" * 4299  # the longest integer json.loads reads
DIGITS_5000 = "9" * 5000


def _with_number(field: str, digits: str) -> bytes:
    """A hook request whose order has `digits` as its dose value, frequency or period."""
    text = json.dumps(hook_request("order-sign", baclofen_order()))
    old = {"dose": '"value": 50', "frequency": '"frequency": 3', "period": '"period": 1'}[field]
    assert old in text
    return text.replace(old, old.split(":")[0] + ": " + digits).encode()


@pytest.mark.parametrize("field", ["dose", "frequency", "period"])
@pytest.mark.parametrize(
    "digits",
    ["9" * 400, DIGITS_4299, "2" + "0" * 308 + ".5"],
    ids=["400 digits", "4299 digits", "beyond a double"],
)
def test_a_huge_number_in_an_order_gets_a_dose_unverifiable_card(
    client: TestClient, field: str, digits: str
) -> None:
    response = client.post(SIGN, content=_with_number(field, digits))
    assert response.status_code == 200
    body = response.json()
    assert rule_ids(body) == ["dose-unverifiable"]
    (card,) = body["cards"]
    assert "out of range" in card["detail"] and DIGITS_4299[:30] not in response.text
    assert len(response.content) < 10_000


@pytest.mark.parametrize("field", ["dose", "frequency", "period"])
def test_a_number_longer_than_json_reads_gets_400(client: TestClient, field: str) -> None:
    response = client.post(SIGN, content=_with_number(field, DIGITS_5000))
    assert response.status_code == 400
    assert response.json()["issue"][0]["code"] == "structure"


def _feedback(timestamp: str) -> dict[str, Any]:
    return {"feedback": [{"card": "c", "outcome": "overridden", "outcomeTimestamp": timestamp}]}


@pytest.mark.parametrize(
    "timestamp",
    [
        "0001-01-01T00:00:00+14:00",  # the year 0 in UTC
        "9999-12-31T23:59:59-14:00",  # the year 10000 in UTC
        "9999-12-31T23:59:59.999999-00:01",
        "2024-02-30T10:00:00Z",
        "2024-05-01T24:00:00Z",
        "2024-05-01T10:00:00+24:00",
        "20240501T100000Z",  # ISO 8601 basic format: not RFC 3339
        "2024-W18-3T10:00:00Z",  # a week date
        "2024-05-01T10:00Z",  # no seconds
        "2024-05-01",
        "\u0662\u0660\u0662\u0664-05-01T10:00:00Z",  # Arabic-Indic digits
    ],
)
def test_a_timestamp_outside_rfc_3339_or_the_calendar_gets_400(
    client: TestClient, timestamp: str
) -> None:
    response = client.post(FEEDBACK, json=_feedback(timestamp))
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["code"] == "invalid"
    assert issue["expression"] == ["feedback[0].outcomeTimestamp"]
    assert timestamp not in response.text


@pytest.mark.parametrize(
    "timestamp, stored",
    [
        ("0001-01-01T00:00:00Z", "0001-01-01T00:00:00.000000Z"),
        ("0001-01-01T13:59:59+14:00", None),  # before 0001 in UTC
        ("0001-01-01T14:00:00+14:00", "0001-01-01T00:00:00.000000Z"),
        ("9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59.999999Z"),
        ("2024-05-01t12:05:31.1234567+02:00", "2024-05-01T10:05:31.123456Z"),
        ("2024-05-01 10:05:31z", "2024-05-01T10:05:31.000000Z"),
    ],
)
def test_timestamps_at_the_edge_of_the_calendar(timestamp: str, stored: str | None) -> None:
    from fhir_module.hooks._models import utc_timestamp

    if stored is None:
        with pytest.raises(ValueError, match="years 0001 to 9999"):
            utc_timestamp(timestamp)
    else:
        assert utc_timestamp(timestamp) == stored
