"""Feedback is stored durably and idempotently; the audit holds no patient id and no token."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from fhir_module.hooks import parse_feedback
from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, Store, create_app

from ._requests import PATIENT, PATIENT_ID, TOKEN, full_prefetch, hook_request
from .conftest import TestClient, record_thread_hand_offs

SIGN = "/cds-services/medication-safety-order-sign"
FEEDBACK = "/cds-services/medication-safety-order-sign/feedback"
REASON = {
    "system": "http://fhir-module.org/fhir/CodeSystem/override-reason",
    "code": "dose-intended",
    "display": "Dose checked and intended",
}


def cards(client: TestClient) -> list[dict[str, Any]]:
    response = client.post(SIGN, json=hook_request())
    assert response.status_code == 200
    return list(response.json()["cards"])


def accepted(card: dict[str, Any]) -> dict[str, Any]:
    return {
        "card": card["uuid"],
        "outcome": "accepted",
        "outcomeTimestamp": "2024-05-01T10:05:31Z",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
    }


def overridden(uuid: str, reason: dict[str, Any] | None = None) -> dict[str, Any]:
    item: dict[str, Any] = {
        "card": uuid,
        "outcome": "overridden",
        "outcomeTimestamp": "2024-05-01T12:05:31+02:00",
    }
    if reason is not None:
        item["overrideReason"] = {"reason": reason, "userComment": "discussed"}
    return item


def rows(db: Path, sql: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def test_feedback_is_stored_once_and_survives_a_restart(
    settings: Settings, knowledge: Knowledge
) -> None:
    with TestClient(create_app(settings, knowledge)) as client:
        shown = cards(client)
        body = {"feedback": [accepted(shown[0]), overridden(shown[1]["uuid"], REASON)]}
        for _ in range(2):
            response = client.post(FEEDBACK, json=body)
            assert response.status_code == 200 and response.content == b""
    with TestClient(create_app(settings, knowledge)) as client:
        assert client.post(FEEDBACK, json=body).status_code == 200
    stored = rows(
        settings.db_path,
        "SELECT card_uuid, outcome, outcome_timestamp, reason_code,"
        " known_card FROM feedback ORDER BY id",
    )
    assert stored == [
        (shown[0]["uuid"], "accepted", "2024-05-01T10:05:31.000000Z", None, 1),
        (shown[1]["uuid"], "overridden", "2024-05-01T10:05:31.000000Z", "dose-intended", 1),
    ]


def test_feedback_on_an_unknown_card_is_kept_and_marked(
    client: TestClient, settings: Settings
) -> None:
    body = {"feedback": [overridden("4e0a3a1e-3283-4575-ab82-028d55fe2719")]}
    assert client.post(FEEDBACK, json=body).status_code == 200
    assert rows(settings.db_path, "SELECT known_card FROM feedback") == [(0,)]


@pytest.mark.parametrize(
    "item, expression, code",
    [
        (
            {"outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00Z"},
            "feedback[0].card",
            "required",
        ),
        (
            {"card": "c", "outcome": "ignored", "outcomeTimestamp": "2020-12-11T00:00:00Z"},
            "feedback[0].outcome",
            "invalid",
        ),
        (
            {"card": "c", "outcome": "accepted", "outcomeTimestamp": "2020-12-11T00:00:00Z"},
            "feedback[0]",
            "invalid",
        ),
        (
            {
                "card": "c",
                "outcome": "accepted",
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
                "acceptedSuggestions": [{}],
            },
            "feedback[0].acceptedSuggestions[0].id",
            "required",
        ),
        ({"card": "c", "outcome": "overridden"}, "feedback[0].outcomeTimestamp", "required"),
        (
            {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2020-12-11T00:00:00"},
            "feedback[0].outcomeTimestamp",
            "invalid",
        ),
        (
            {"card": "c", "outcome": "overridden", "outcomeTimestamp": "yesterday"},
            "feedback[0].outcomeTimestamp",
            "invalid",
        ),
        (
            {
                "card": "c",
                "outcome": "overridden",
                "outcomeTimestamp": "2020-12-11T00:00:00Z",
                "overrideReason": {"reason": {"code": "x"}},
            },
            "feedback[0].overrideReason.reason.system",
            "required",
        ),
    ],
)
def test_bad_feedback_gets_400(
    client: TestClient, settings: Settings, item: dict[str, Any], expression: str, code: str
) -> None:
    response = client.post(FEEDBACK, json={"feedback": [item]})
    assert response.status_code == 400
    (issue,) = response.json()["issue"]
    assert (issue["expression"], issue["code"]) == ([expression], code)
    assert rows(settings.db_path, "SELECT COUNT(*) FROM feedback") == [(0,)]


def test_feedback_body_must_hold_an_array(client: TestClient) -> None:
    assert client.post(FEEDBACK, json={"feedback": {}}).status_code == 400
    assert client.post(FEEDBACK, content=b"{").status_code == 400


def test_the_spec_examples_parse() -> None:
    items = parse_feedback(
        json.dumps(
            {
                "feedback": [
                    {
                        "card": "9368d37b-283f-44a0-93ea-547cebab93ed",
                        "outcome": "overridden",
                        "overrideReason": {
                            "reason": {
                                "code": "d7ecf885",
                                "system": "https://example.com/override-reason-system",
                            },
                            "userComment": "A comment entered by the clinician.",
                        },
                        "outcomeTimestamp": "2020-12-11T00:00:00Z",
                    },
                    {
                        "card": "4e0a3a1e-3283-4575-ab82-028d55fe2719",
                        "outcome": "accepted",
                        "acceptedSuggestions": [{"id": "e56e1945-20b3-4393-8503-a1a20fd73152"}],
                        "outcomeTimestamp": "1985-04-12T23:20:50.52Z",
                    },
                ]
            }
        )
    )
    assert [i.outcomeTimestamp for i in items] == [
        "2020-12-11T00:00:00.000000Z",
        "1985-04-12T23:20:50.520000Z",
    ]


def test_the_audit_holds_no_patient_id_and_no_token(client: TestClient, settings: Settings) -> None:
    prefetch = full_prefetch()
    prefetch["patient"] = dict(PATIENT, name=[{"family": "Zebedee"}])
    response = client.post(SIGN, json=hook_request(prefetch=prefetch))
    shown = response.json()["cards"]
    assert shown
    client.post(FEEDBACK, json={"feedback": [overridden(shown[0]["uuid"], REASON)]})
    client.app.state.store.close()  # type: ignore[attr-defined]
    raw = b"".join(p.read_bytes() for p in settings.db_path.parent.glob("service.sqlite3*"))
    for secret in (PATIENT_ID, TOKEN, "Zebedee", "1980-02-03"):
        assert secret.encode() not in raw
    (call,) = rows(
        settings.db_path,
        "SELECT hook_instance, service_id, hook, patient_hash, card_count FROM hook_call",
    )
    store = Store(settings.db_path)
    assert call == (
        "d1577c69-dfbe-44ad-ba6d-3e05e953b2ea",
        "medication-safety-order-sign",
        "order-sign",
        store.patient_hash(PATIENT_ID),
        len(shown),
    )
    store.close()
    audited = rows(settings.db_path, "SELECT card_uuid, rule_id, indicator FROM card_shown")
    assert sorted(audited) == sorted(
        (c["uuid"], c["source"]["topic"]["code"], c["indicator"]) for c in shown
    )


def test_the_audit_key_is_made_once_and_kept(tmp_path: Path) -> None:
    first = Store(tmp_path / "a.sqlite3")
    again = Store(tmp_path / "a.sqlite3")
    given = Store(tmp_path / "a.sqlite3", audit_key=b"k" * 32)
    assert first.patient_hash("p") == again.patient_hash("p") != given.patient_hash("p")
    other = Store(tmp_path / "b.sqlite3")
    assert first.patient_hash("p") != other.patient_hash("p")
    for store in (first, again, given, other):
        store.close()


def test_feedback_is_flushed_to_disk_and_the_audit_is_committed(tmp_path: Path) -> None:
    store = Store(tmp_path / "a.sqlite3")
    try:
        # SQLite's synchronous levels: 2 is FULL (flushed), 1 NORMAL (committed to the WAL).
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 2
        assert store._audit.execute("PRAGMA synchronous").fetchone()[0] == 1
        for conn in (store._conn, store._audit):
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        store.record_call(
            hook_instance="h",
            service_id="s",
            hook="order-sign",
            patient_id="p",
            cards=[
                {
                    "uuid": "u-1",
                    "indicator": "warning",
                    "source": {"topic": {"code": "max-daily-dose"}},
                }
            ],
        )
        # Feedback on the card, through the other connection, knows the card.
        store.record_feedback("s", parse_feedback({"feedback": [overridden("u-1")]}))
    finally:
        store.close()
    assert rows(tmp_path / "a.sqlite3", "SELECT card_uuid, known_card FROM feedback") == [
        ("u-1", 1)
    ]


def test_a_write_waits_out_another_writer(tmp_path: Path) -> None:
    import threading

    store = Store(tmp_path / "a.sqlite3")
    other = sqlite3.connect(tmp_path / "a.sqlite3", isolation_level=None, check_same_thread=False)
    call = {
        "hook_instance": "h",
        "service_id": "s",
        "hook": "order-sign",
        "patient_id": "p",
        "cards": [{"uuid": "u-1", "indicator": "info"}],
    }
    try:
        other.execute("BEGIN IMMEDIATE")  # another worker in the middle of a write
        threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
        started = time.monotonic()
        store.record_call(**call)
        assert time.monotonic() - started >= 0.2  # it waited for the other writer
    finally:
        time.sleep(0.1)
        other.close()
        store.close()
    assert rows(tmp_path / "a.sqlite3", "SELECT card_uuid FROM card_shown") == [("u-1",)]


def test_a_busy_database_delays_the_audit_in_its_thread_and_still_writes_it(
    open_settings: Settings, knowledge: Knowledge, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    settings = open_settings  # no JWT check: the audit is the call's only write

    import fhir_module.server._offload as offload

    handed = record_thread_hand_offs(monkeypatch, offload)
    with TestClient(create_app(settings, knowledge)) as client:
        cards(client)  # the first call creates what it needs
        other = sqlite3.connect(settings.db_path, isolation_level=None, check_same_thread=False)
        other.execute("BEGIN IMMEDIATE")
        threading.Timer(0.3, lambda: other.execute("COMMIT")).start()
        try:
            shown = cards(client)
        finally:
            time.sleep(0.4)
            other.close()
    assert handed[-2:] == ["run_hook", "record_call"]  # the audit waits in a thread
    uuids = {uuid for (uuid,) in rows(settings.db_path, "SELECT card_uuid FROM card_shown")}
    assert {card["uuid"] for card in shown} <= uuids
