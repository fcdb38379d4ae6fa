"""The store's guarantees, on SQLite and on PostgreSQL alike: every test runs on both.

Two Store or ReplayCache objects on one database stand for two workers, or two replicas
on two hosts: what one commits the other sees, and uniqueness is the database's.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from fhir_module.hooks import parse_feedback
from fhir_module.server import Store, feedback_report
from fhir_module.server._replay import ReplayCache, ReplayCacheFull
from fhir_module.server._store import KeyFileError, TooMuchFeedback, is_postgres_url

from ._postgres import query

KEY = b"a shared audit key, 32 bytes...."
CARD = {
    "uuid": "card-1",
    "indicator": "warning",
    "source": {"topic": {"code": "max-daily-dose"}},
    "suggestions": [{"uuid": "sugg-1"}],
    "overrideReasons": [{"system": "http://x.org/r", "code": "dose-intended"}],
}


def store(target: Path | str, **kwargs: Any) -> Store:
    kwargs.setdefault("audit_key", KEY)
    return Store(target, **kwargs)


def audit(s: Store, *cards: dict[str, Any], patient: str = "p-1") -> None:
    s.record_call(
        hook_instance="h-1",
        service_id="svc",
        hook="order-sign",
        patient_id=patient,
        cards=list(cards or (CARD,)),
    )


def feedback(*items: dict[str, Any]) -> list[Any]:
    return list(parse_feedback({"feedback": list(items)}))


ACCEPTED = {
    "card": "card-1",
    "outcome": "accepted",
    "outcomeTimestamp": "2024-05-01T10:00:00Z",
    "acceptedSuggestions": [{"id": "sugg-1"}],
}
OVERRIDDEN = {
    "card": "card-1",
    "outcome": "overridden",
    "outcomeTimestamp": "2024-05-01T10:01:00Z",
    "overrideReason": {
        "reason": {"system": "http://x.org/r", "code": "dose-intended"},
        "userComment": "Mr Zebedee",
    },
}


def test_feedback_sent_to_two_replicas_is_stored_once(db_target: Path | str) -> None:
    one, two = store(db_target), store(db_target)
    try:
        audit(one)
        assert one.record_feedback("svc", feedback(ACCEPTED, OVERRIDDEN)) == 2
        assert two.record_feedback("svc", feedback(ACCEPTED, OVERRIDDEN)) == 0
        assert one.record_feedback("svc", feedback(ACCEPTED)) == 0
    finally:
        one.close()
        two.close()
    assert query(
        db_target,
        "SELECT card_uuid, outcome, apart, user_comment, comment_length"
        " FROM feedback ORDER BY outcome_timestamp",
    ) == [
        ("card-1", "accepted", None, None, None),
        ("card-1", "overridden", None, None, 10),
    ]
    (row,) = feedback_report(db_target)
    assert (row.rule_id, row.shown, row.accepted, row.overridden) == ("max-daily-dose", 1, 1, 1)


def test_the_same_feedback_racing_on_two_replicas_is_stored_once(db_target: Path | str) -> None:
    stores = [store(db_target) for _ in range(2)]
    try:
        audit(stores[0])
        barrier = threading.Barrier(8)

        def send(i: int) -> int:
            barrier.wait()
            return stores[i % 2].record_feedback("svc", feedback(ACCEPTED))

        with ThreadPoolExecutor(8) as pool:
            added = list(pool.map(send, range(8)))
    finally:
        for s in stores:
            s.close()
    assert sum(added) == 1
    assert query(db_target, "SELECT COUNT(*) FROM feedback") == [(1,)]


def test_a_jti_accepted_by_one_replica_is_refused_by_every_other(db_target: Path | str) -> None:
    caches = [ReplayCache(db_target) for _ in range(3)]
    try:
        assert caches[0].first_use("https://ehr", "j-1", 2000.0, 1000.0)
        assert not caches[1].first_use("https://ehr", "j-1", 2000.0, 1000.0)
        assert not caches[2].first_use("https://ehr", "j-1", 2000.0, 1000.0)
        # Racing on one new jti: exactly one replica admits it.
        barrier = threading.Barrier(9)

        def race(i: int) -> bool:
            barrier.wait()
            return caches[i % 3].first_use("https://ehr", "j-race", 2000.0, 1000.0)

        with ThreadPoolExecutor(9) as pool:
            assert sorted(pool.map(race, range(9))) == [False] * 8 + [True]
        # Expired, the same id is a new token again.
        assert caches[1].first_use("https://ehr", "j-1", 4000.0, 3000.0)
    finally:
        for c in caches:
            c.close()


def test_the_replay_quota_holds_on_both(db_target: Path | str) -> None:
    cache = ReplayCache(db_target, quota=2)
    try:
        assert cache.first_use("https://a", "1", 2000.0, 1000.0)
        assert cache.first_use("https://a", "2", 2000.0, 1000.0)
        with pytest.raises(ReplayCacheFull):
            cache.first_use("https://a", "3", 2000.0, 1000.0)
        assert cache.first_use("https://b", "1", 2000.0, 1000.0)
    finally:
        cache.close()


def test_expired_tokens_are_purged_even_when_the_calls_are_refused(db_target: Path | str) -> None:
    cache = ReplayCache(db_target, quota=2)
    try:
        assert cache.first_use("https://gone", "old", 1500.0, 1000.0)
        assert cache.first_use("https://a", "1", 90000.0, 1000.0)
        assert cache.first_use("https://a", "2", 90000.0, 1000.0)
        # Every later call of https://a is refused, and a purge falls among them.
        for i in range(70):
            with pytest.raises(ReplayCacheFull):
                cache.first_use("https://a", f"more-{i}", 90000.0, 2000.0)
        assert query(db_target, "SELECT issuer, jti FROM jwt_seen ORDER BY jti") == [
            ("https://a", "1"),
            ("https://a", "2"),
        ]
    finally:
        cache.close()


@pytest.mark.parametrize(
    "accepted, stored, apart",
    [
        (["sugg-1"] * 1000, ["sugg-1"], None),
        (["sugg-1", "sugg-2", "sugg-1", "sugg-2"], ["sugg-1", "sugg-2"], None),
        (["forged"] * 500 + ["sugg-1"], ["forged", "sugg-1"], "unknown-suggestion"),
        ([f"forged-{i}" for i in range(500)], ["forged-0", "forged-1"], "unknown-suggestion"),
    ],
)
def test_the_accepted_suggestions_stored_are_bounded_by_the_card(
    db_target: Path | str, accepted: list[str], stored: list[str], apart: str | None
) -> None:
    import json

    s = store(db_target)
    try:
        audit(s, {**CARD, "suggestions": [{"uuid": "sugg-1"}, {"uuid": "sugg-2"}]})
        item = {**ACCEPTED, "acceptedSuggestions": [{"id": i} for i in accepted]}
        assert s.record_feedback("svc", feedback(item)) == 1
    finally:
        s.close()
    ((row, marked),) = query(db_target, "SELECT accepted_suggestions, apart FROM feedback")
    assert json.loads(row) == stored and marked == apart


def test_the_accepted_suggestions_of_an_unknown_card_are_stored_once_each(
    db_target: Path | str,
) -> None:
    import json

    s = store(db_target)
    try:
        item = {
            **ACCEPTED,
            "card": "never-shown",
            "acceptedSuggestions": [{"id": "a"}, {"id": "b"}] * 500,
        }
        assert s.record_feedback("svc", feedback(item)) == 1
    finally:
        s.close()
    ((row, marked),) = query(db_target, "SELECT accepted_suggestions, apart FROM feedback")
    assert json.loads(row) == ["a", "b"] and marked == "unknown-card"


def test_every_call_is_audited_with_the_patient_hashed(db_target: Path | str) -> None:
    one, two = store(db_target), store(db_target)
    try:
        audit(one, CARD, patient="patient-42")
        audit(two, {**CARD, "uuid": "card-2"}, patient="patient-42")
        assert one.patient_hash("patient-42") == two.patient_hash("patient-42")
        expected = one.patient_hash("patient-42")
    finally:
        one.close()
        two.close()
    assert query(db_target, "SELECT patient_hash, card_count FROM hook_call") == [
        (expected, 1),
        (expected, 1),
    ]
    assert query(db_target, "SELECT card_uuid, rule_id FROM card_shown ORDER BY card_uuid") == [
        ("card-1", "max-daily-dose"),
        ("card-2", "max-daily-dose"),
    ]
    rows = query(db_target, "SELECT * FROM hook_call")
    assert "patient-42" not in repr(rows)


def test_replicas_starting_together_migrate_the_schema_once(db_target: Path | str) -> None:
    barrier = threading.Barrier(6)

    def start(_: int) -> Store:
        barrier.wait()
        return store(db_target)

    with ThreadPoolExecutor(6) as pool:
        stores = list(pool.map(start, range(6)))
    for s in stores:
        s.close()
    from fhir_module.server import _pg, _store

    version = _pg.SCHEMA_VERSION if is_postgres_url(db_target) else _store.SCHEMA_VERSION
    assert query(db_target, "SELECT value FROM meta WHERE name = 'schema'") == [(str(version),)]


def test_the_feedback_rate_is_one_cap_for_every_replica(db_target: Path | str) -> None:
    one = store(db_target, feedback_per_minute=2)
    two = store(db_target, feedback_per_minute=2)
    try:
        assert one.record_feedback("svc", feedback(ACCEPTED), "ehr") == 1
        assert two.record_feedback("svc", feedback(OVERRIDDEN), "ehr") == 1
        with pytest.raises(TooMuchFeedback):
            one.record_feedback("svc", feedback({**ACCEPTED, "card": "card-9"}), "ehr")
    finally:
        one.close()
        two.close()


def test_retention_and_feedback_kept_apart_on_both(db_target: Path | str) -> None:
    now = [1_700_000_000.0]
    s = store(db_target, retention_days=10, clock=lambda: now[0])
    try:
        audit(s)
        forged = {**ACCEPTED, "acceptedSuggestions": [{"id": "forged"}]}
        s.record_feedback("svc", feedback(forged, {**OVERRIDDEN, "card": "nobody"}))
        assert query(db_target, "SELECT apart FROM feedback ORDER BY card_uuid") == [
            ("unknown-suggestion",),
            ("unknown-card",),
        ]
        now[0] += 11 * 86400
        s.purge()
    finally:
        s.close()
    for table in ("feedback", "hook_call", "card_shown"):
        assert query(db_target, f"SELECT COUNT(*) FROM {table}") == [(0,)]


def test_health_on_both(db_target: Path | str) -> None:
    s = store(db_target)
    try:
        assert s.health() == {"writable": True, "auditFailures": 0}
    finally:
        s.close()


def test_a_shared_database_needs_a_shared_key(db_target: Path | str, tmp_path: Path) -> None:
    if not is_postgres_url(db_target):
        # One machine: the key file beside the database is made on first start.
        Store(db_target).close()
        assert Path(f"{db_target}.key").exists()
        return
    with pytest.raises(KeyFileError, match="same"):
        Store(db_target)
    key_file = tmp_path / "audit.key"
    with pytest.raises(KeyFileError, match="not found"):
        Store(db_target, key_file=key_file)  # never made here: it would be this host's alone
    key_file.write_text(KEY.hex())
    key_file.chmod(0o600)
    Store(db_target, key_file=key_file).close()
    with pytest.raises(KeyFileError, match="not the one"):
        Store(db_target, audit_key=b"another key, 32 bytes long......")


def test_db_settings_take_a_postgresql_url(tmp_path: Path) -> None:
    import argparse

    from fhir_module.cli._serve import settings_for
    from fhir_module.server import Settings

    url = "postgresql://cds@db.example.org/cds"
    settings = Settings.from_env({"FHIR_MODULE_DB": url})
    assert settings.database == url and settings.db_url == url
    assert Settings.from_env(settings.to_env()) == settings
    assert Settings.from_env({"FHIR_MODULE_DB": "x.sqlite3"}).database == Path("x.sqlite3")
    args = argparse.Namespace(host=None, port=None, config=None, db=url)
    assert settings_for(args).database == url
    args.db = str(tmp_path / "local.sqlite3")
    assert settings_for(args).database == tmp_path / "local.sqlite3"


@pytest.mark.parametrize("command", ["serve", "feedback-report"])
def test_an_unusable_postgresql_database_is_one_line(
    postgres_cluster: object,
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fhir_module.cli import main

    from ._postgres import Cluster

    assert isinstance(postgres_cluster, Cluster)
    monkeypatch.delenv("FHIR_MODULE_AUDIT_KEY", raising=False)
    monkeypatch.delenv("FHIR_MODULE_AUDIT_KEY_FILE", raising=False)
    for url in (
        postgres_cluster.url("no_such_database"),
        "postgresql://nobody:s3cret@/x?host=/nonexistent&connect_timeout=2",
    ):
        assert main([command, "--db", url]) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert "cannot" in err and "s3cret" not in err and "Traceback" not in err
    if command == "serve":
        good = postgres_cluster.new_database()
        assert main([command, "--db", good]) == 2  # no shared audit key
        assert "FHIR_MODULE_AUDIT_KEY" in capsys.readouterr().err


def test_each_card_names_the_call_that_showed_it(db_target: Path | str) -> None:
    stores = [store(db_target) for _ in range(2)]
    try:

        def call(i: int) -> None:
            stores[i % 2].record_call(
                hook_instance=f"h-{i}",
                service_id="svc",
                hook="order-sign",
                patient_id="p",
                cards=[{**CARD, "uuid": f"c-{i}-a"}, {**CARD, "uuid": f"c-{i}-b"}],
            )

        with ThreadPoolExecutor(6) as pool:
            list(pool.map(call, range(24)))
    finally:
        for s in stores:
            s.close()
    rows = query(
        db_target,
        "SELECT c.card_uuid, h.hook_instance FROM card_shown c JOIN hook_call h"
        " ON h.id = c.call_id",
    )
    assert sorted(rows) == sorted((f"c-{i}-{x}", f"h-{i}") for i in range(24) for x in "ab")


# ----- the service itself on either database


@pytest.fixture
def service_settings(db_target: Path | str, tmp_path: Path) -> Any:
    from fhir_module.server import Settings

    if is_postgres_url(db_target):
        return Settings(db_url=str(db_target), audit_key=KEY, feedback_per_minute=50)
    return Settings(db_path=Path(db_target), audit_key=KEY, feedback_per_minute=50)


def test_the_service_audits_takes_feedback_and_reports_on_both(
    service_settings: Any, knowledge: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from fhir_module.cli import main
    from fhir_module.server import create_app

    from ._requests import hook_request
    from .conftest import TestClient

    sign = "/cds-services/medication-safety-order-sign"
    with TestClient(create_app(service_settings, knowledge)) as client:
        cards = client.post(sign, json=hook_request()).json()["cards"]
        card = next(c for c in cards if c.get("suggestions"))
        item = {
            "card": card["uuid"],
            "outcome": "accepted",
            "outcomeTimestamp": "2024-05-01T10:00:00Z",
            "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
        }
        forged = {
            **item,
            "acceptedSuggestions": [{"id": "forged"}],
            "outcomeTimestamp": "2024-05-01T10:01:00Z",
        }
        for _ in range(2):
            body = {"feedback": [item, forged]}
            assert client.post(sign + "/feedback", json=body).status_code == 200
        too_many = {
            "feedback": [
                {**item, "outcomeTimestamp": f"2024-05-02T10:{m:02d}:00Z"} for m in range(50)
            ]
        }
        assert client.post(sign + "/feedback", json=too_many).status_code == 429
        assert client.get("/health").json()["database"] == "writable"
    target = service_settings.database
    assert query(target, "SELECT COUNT(*) FROM hook_call") == [(1,)]
    assert query(target, "SELECT apart FROM feedback ORDER BY outcome_timestamp") == [
        (None,),
        ("unknown-suggestion",),
    ]
    assert main(["feedback-report", "--db", str(target)]) == 0
    out = capsys.readouterr().out
    assert "(suggestion not on the card)" in out


def test_a_read_only_postgresql_gives_503_for_feedback_and_still_answers(
    postgres_cluster: Any, knowledge: Any
) -> None:
    import psycopg

    from fhir_module.server import Settings, create_app

    from ._requests import hook_request
    from .conftest import TestClient

    url = postgres_cluster.new_database()
    name = url.split("/")[3].split("?")[0]
    sign = "/cds-services/medication-safety-order-sign"
    item = {"card": "c", "outcome": "overridden", "outcomeTimestamp": "2024-05-01T10:00:00Z"}
    with TestClient(create_app(Settings(db_url=url, audit_key=KEY), knowledge)) as client:
        assert client.post(sign + "/feedback", json={"feedback": [item]}).status_code == 200
        with psycopg.connect(postgres_cluster.url(), autocommit=True) as admin:
            admin.execute(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )
        for i in range(3):  # a dropped connection, then read-only ones: 503 either way
            body = {"feedback": [{**item, "card": f"c-{i}"}]}
            response = client.post(sign + "/feedback", json=body)
            assert response.status_code == 503
            assert response.json()["issue"][0]["code"] == "transient"
        for _ in range(3):
            answer = client.post(sign, json=hook_request())
            assert answer.status_code == 200 and answer.json()["cards"]
        health = client.get("/health")
        assert health.status_code == 503 and health.json()["auditFailures"] >= 3
