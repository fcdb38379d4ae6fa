"""The drug beside the rule: the audit, the feedback and feedback-report name the
PlanDefinition (canonical URL and version) whose rule gave each card, on SQLite and
PostgreSQL, and a database written before is migrated in place."""

from __future__ import annotations

import copy
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from fhir_module.cli import main
from fhir_module.hooks import parse_feedback
from fhir_module.knowledge import Knowledge, load_knowledge
from fhir_module.server import Settings, Store, _pg, _store, create_app, feedback_report

from ._postgres import query
from ._requests import baclofen_order, hook_request
from .conftest import TestClient

ROOT = Path(__file__).resolve().parents[2]
SECOND_DRUG = ROOT / "tests" / "second_drug" / "knowledge"
SIGN = "/cds-services/medication-safety-order-sign"
KEY = b"a shared audit key, 32 bytes...."
BACLOFEN = "http://fhir-module.org/fhir/PlanDefinition/baclofen-order-safety"
TIZANIDINE = "http://fhir-module.org/fhir/PlanDefinition/tizanidine-order-safety"


def tizanidine_order(oid: str = "mr-2") -> dict[str, Any]:
    """Three 4 mg tablets four times a day: 48 mg/day, above tizanidine's maximum."""
    order = copy.deepcopy(baclofen_order(oid))
    order["medicationCodeableConcept"] = {
        "coding": [{"system": "urn:fhir-module:test-products", "code": "tiz-4"}],
        "text": "tizanidine 4 mg tablet",
    }
    dosage = order["dosageInstruction"][0]
    dosage["timing"]["repeat"]["frequency"] = 4
    dosage["doseAndRate"][0]["doseQuantity"] = {
        "value": 3,
        "unit": "tablet",
        "system": "http://unitsofmeasure.org",
        "code": "{tbl}",
    }
    return order


def table(out: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in out.splitlines()[1:]]


def test_two_drugs_sharing_a_rule_code_are_audited_and_reported_apart(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    knowledge = load_knowledge(SECOND_DRUG)
    plans = {d.id: (d.plan_url, d.plan_version) for d in knowledge.drugs}
    assert plans == {"baclofen": (BACLOFEN, "0.1.0"), "tizanidine": (TIZANIDINE, "0.1.0")}
    with TestClient(create_app(settings, knowledge)) as client:
        request = hook_request("order-sign", baclofen_order(), tizanidine_order())
        cards = client.post(SIGN, json=request).json()["cards"]
        by_drug = {
            drug: next(
                c
                for c in cards
                if c["source"]["topic"]["code"] == "max-daily-dose"
                and c["source"]["label"].startswith(title)
            )
            for drug, title in (("baclofen", "Baclofen"), ("tizanidine", "Tizanidine"))
        }
        items = [
            {
                "card": by_drug["baclofen"]["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2024-05-01T10:00:00Z",
            },
            {
                "card": by_drug["tizanidine"]["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": by_drug["tizanidine"]["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2024-05-01T10:00:01Z",
            },
        ]
        assert client.post(SIGN + "/feedback", json={"feedback": items}).status_code == 200
    db = settings.database
    rows = query(db, "SELECT card_uuid, plan_url, plan_version, rule_id FROM card_shown")
    shown = {uuid: (url, version, rule) for uuid, url, version, rule in rows}
    assert len(shown) == len(cards)
    for card in cards:
        drug = "baclofen" if card["source"]["label"].startswith("Baclofen") else "tizanidine"
        assert shown[card["uuid"]] == (*plans[drug], card["source"]["topic"]["code"])
    assert sorted(query(db, "SELECT plan_url, plan_version, outcome FROM feedback")) == [
        (BACLOFEN, "0.1.0", "overridden"),
        (TIZANIDINE, "0.1.0", "accepted"),
    ]
    rows = {(r.plan_url, r.plan_version, r.rule_id): r for r in feedback_report(db)}
    baclofen, tizanidine = (
        rows[(BACLOFEN, "0.1.0", "max-daily-dose")],
        rows[(TIZANIDINE, "0.1.0", "max-daily-dose")],
    )
    assert (baclofen.shown, baclofen.accepted, baclofen.overridden) == (1, 0, 1)
    assert (tizanidine.shown, tizanidine.accepted, tizanidine.overridden) == (1, 1, 0)
    assert tizanidine.drug == f"{TIZANIDINE}|0.1.0"

    assert main(["feedback-report", "--db", str(db)]) == 0
    lines = table(capsys.readouterr().out)
    assert [f"{BACLOFEN}|0.1.0", "max-daily-dose", "1", "0", "1"] in lines
    assert [f"{TIZANIDINE}|0.1.0", "max-daily-dose", "1", "1", "0"] in lines
    # by drug, then rule
    drugs = [line[0] for line in lines if len(line) == 5]
    assert drugs == sorted(drugs)


def test_the_store_records_the_drug_on_both_backends(db_target: Path | str) -> None:
    card = {
        "uuid": "card-1",
        "indicator": "warning",
        "source": {"topic": {"code": "max-daily-dose"}},
        "suggestions": [{"uuid": "sugg-1"}],
    }
    s = Store(db_target, KEY)
    try:
        s.record_call(
            hook_instance="h-1",
            service_id="medication-safety-order-sign",
            hook="order-sign",
            patient_id="p-1",
            cards=[card, {**card, "uuid": "card-2"}],
            drugs={"card-1": (TIZANIDINE, "0.2.0")},
        )
        items = parse_feedback(
            {
                "feedback": [
                    {"card": c, "outcome": "overridden", "outcomeTimestamp": "2024-05-01T10:00:00Z"}
                    for c in ("card-1", "card-2", "never-shown")
                ]
            }
        )
        assert s.record_feedback("medication-safety-order-sign", items) == 3
    finally:
        s.close()
    assert query(
        db_target, "SELECT card_uuid, plan_url, plan_version FROM card_shown ORDER BY 1"
    ) == [("card-1", TIZANIDINE, "0.2.0"), ("card-2", "", "")]
    assert query(
        db_target, "SELECT card_uuid, plan_url, plan_version, apart FROM feedback ORDER BY 1"
    ) == [
        ("card-1", TIZANIDINE, "0.2.0", None),
        ("card-2", "", "", None),
        ("never-shown", "", "", "unknown-card"),
    ]
    report = {(r.drug, r.rule_id): (r.shown, r.overridden) for r in feedback_report(db_target)}
    assert report == {
        (f"{TIZANIDINE}|0.2.0", "max-daily-dose"): (1, 1),
        ("", "max-daily-dose"): (1, 1),
        ("", "(unknown card)"): (0, 1),
    }


def _old_sqlite(path: Path) -> None:
    """A database as the version before wrote it (schema 4): a card of the service then
    called baclofen-order-sign, and feedback on it."""
    conn = sqlite3.connect(path)
    for step in _store.MIGRATIONS[:4]:
        for statement in step:
            conn.execute(statement)
    conn.execute("INSERT INTO meta (name, value) VALUES ('schema', '4')")
    conn.execute(
        "INSERT INTO hook_call (id, hook_instance, service_id, hook, patient_hash, card_count,"
        " called_at) VALUES (1, 'h-0', 'baclofen-order-sign', 'order-sign', 'x', 1,"
        " '2099-01-01T00:00:00.000000Z')"
    )
    conn.execute(
        "INSERT INTO card_shown (card_uuid, call_id, rule_id, indicator, suggestions, reasons)"
        " VALUES ('old-card', 1, 'pregnancy', 'critical', '[]', '[]')"
    )
    conn.execute(
        "INSERT INTO feedback (service_id, card_uuid, outcome, outcome_timestamp,"
        " accepted_suggestions, known_card, received_at) VALUES ('baclofen-order-sign',"
        " 'old-card', 'overridden', '2024-05-01T10:00:00Z', '[]', 1,"
        " '2099-01-01T00:00:00.000000Z')"
    )
    conn.commit()
    conn.close()


def test_an_old_sqlite_database_is_migrated(
    tmp_path: Path, knowledge: Knowledge, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "old.sqlite3"
    _old_sqlite(db)
    assert main(["feedback-report", "--db", str(db)]) == 2
    assert "start the service on it once" in capsys.readouterr().err
    settings = Settings(db_path=db, audit_key=KEY)
    with TestClient(create_app(settings, knowledge)) as client:
        assert query(db, "SELECT value FROM meta WHERE name = 'schema'") == [
            (str(_store.SCHEMA_VERSION),)
        ]
        assert _store.SCHEMA_VERSION == 5
        # what was there is kept, its drug unknown
        assert query(db, "SELECT rule_id, plan_url, plan_version FROM card_shown") == [
            ("pregnancy", "", "")
        ]
        assert query(db, "SELECT service_id, plan_url, plan_version FROM feedback") == [
            ("baclofen-order-sign", "", "")
        ]
        # feedback arriving at the new id on a card shown under the old one still counts
        item = {
            "card": "old-card",
            "outcome": "overridden",
            "outcomeTimestamp": "2024-05-02T00:00:00Z",
        }
        assert client.post(SIGN + "/feedback", json={"feedback": [item]}).status_code == 200
        cards = client.post(SIGN, json=hook_request()).json()["cards"]
    assert query(db, "SELECT apart FROM feedback ORDER BY id") == [(None,), (None,)]
    assert main(["feedback-report", "--db", str(db)]) == 0
    lines = table(capsys.readouterr().out)
    assert ["(unknown)", "pregnancy", "1", "0", "2"] in lines
    new_rule = cards[0]["source"]["topic"]["code"]
    assert [line[:3] for line in lines if line[1:2] == [new_rule]] == [
        [f"{BACLOFEN}|0.1.0", new_rule, "1"]
    ]


def test_an_old_postgresql_database_is_migrated(
    postgres_cluster: Any,
) -> None:
    import psycopg

    url = postgres_cluster.new_database()
    with psycopg.connect(url) as conn:
        conn.execute("CREATE TABLE meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
        for statement in _pg.MIGRATIONS[0]:
            conn.execute(statement)
        conn.execute("INSERT INTO meta (name, value) VALUES ('schema', '1')")
        conn.execute(
            "INSERT INTO hook_call (hook_instance, service_id, hook, patient_hash, card_count,"
            " called_at) VALUES ('h-0', 'baclofen-order-sign', 'order-sign', 'x', 1,"
            " '2099-01-01T00:00:00.000000Z')"
        )
        conn.execute(
            "INSERT INTO card_shown (card_uuid, call_id, rule_id, indicator, suggestions,"
            " reasons) SELECT 'old-card', id, 'pregnancy', 'critical', '[]', '[]'"
            " FROM hook_call"
        )
        conn.execute(
            "INSERT INTO feedback (service_id, card_uuid, outcome, outcome_timestamp,"
            " accepted_suggestions, known_card, received_at) VALUES ('baclofen-order-sign',"
            " 'old-card', 'overridden', '2024-05-01T10:00:00Z', '[]', 1,"
            " '2099-01-01T00:00:00.000000Z')"
        )
    s = Store(url, KEY)
    try:
        s.record_call(
            hook_instance="h-1",
            service_id="medication-safety-order-sign",
            hook="order-sign",
            patient_id="p-1",
            cards=[{"uuid": "new-card", "source": {"topic": {"code": "pregnancy"}}}],
            drugs={"new-card": (BACLOFEN, "0.1.0")},
        )
    finally:
        s.close()
    assert query(url, "SELECT value FROM meta WHERE name = 'schema'") == [
        (str(_pg.SCHEMA_VERSION),)
    ]
    assert _pg.SCHEMA_VERSION == 2
    assert query(url, "SELECT card_uuid, plan_url, plan_version FROM card_shown ORDER BY 1") == [
        ("new-card", BACLOFEN, "0.1.0"),
        ("old-card", "", ""),
    ]
    assert query(url, "SELECT plan_url, plan_version FROM feedback") == [("", "")]
    report = {(r.drug, r.rule_id): (r.shown, r.overridden) for r in feedback_report(url)}
    assert report == {("", "pregnancy"): (1, 1), (f"{BACLOFEN}|0.1.0", "pregnancy"): (1, 0)}
