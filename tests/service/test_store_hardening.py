"""What the service stores, and what it refuses to: bounded, apart, kept no longer than asked."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, create_app, load_config
from fhir_module.server._replay import ReplayCache, ReplayCacheFull

from ._jwt import ISSUER, SERVICE_URL, jwks, key, token, write_config
from .conftest import TestClient

BASE = SERVICE_URL
DISCOVERY = "/cds-services"
OTHER_ISSUER = "https://other-ehr.example.org"


@pytest.fixture
def open_client(open_settings: Settings, knowledge: Knowledge) -> Iterator[TestClient]:
    with TestClient(create_app(open_settings, knowledge)) as client:
        yield client


# ----- the replay cache: a quota per issuer


@pytest.mark.parametrize("quota, flood", [(1, 1), (3, 3), (5, 5)])
def test_a_full_quota_refuses_only_its_issuer(tmp_path: Path, quota: int, flood: int) -> None:
    cache = ReplayCache(tmp_path / "r.sqlite3", quota=quota)
    try:
        for i in range(flood):
            assert cache.first_use("https://flood", f"j-{i}", 2000.0, 1000.0)
        with pytest.raises(ReplayCacheFull):
            cache.first_use("https://flood", "one-more", 2000.0, 1000.0)
        for i in range(quota):
            assert cache.first_use("https://other", f"j-{i}", 2000.0, 1000.0)
        # Once the flood's tokens have expired, the issuer is admitted again.
        for i in range(64):
            cache.first_use(f"https://later-{i}", "k", 9000.0, 2500.0)
        assert cache.first_use("https://flood", "after-expiry", 9000.0, 2500.0)
    finally:
        cache.close()


def _two_issuer_config(folder: Path, quota: int | None) -> Path:
    path = write_config(folder)
    second = folder / "other-jwks.json"
    import json

    second.write_text(json.dumps(jwks(key("ES256", "other-1"))))
    text = path.read_text()
    if quota is not None:
        text = f"replay_quota = {quota}\n" + text
    text += f'[[clients]]\nissuer = "{OTHER_ISSUER}"\njwks_file = "other-jwks.json"\n'
    path.write_text(text)
    return path


@pytest.mark.parametrize("where", ["config", "settings"])
def test_one_client_cannot_lock_the_others_out(
    tmp_path: Path, knowledge: Knowledge, where: str
) -> None:
    config = _two_issuer_config(tmp_path, 3 if where == "config" else None)
    settings = Settings(db_path=tmp_path / "q.sqlite3", config_path=config)
    if where == "settings":
        settings = dataclasses.replace(settings, replay_quota=3)
    with TestClient(create_app(settings, knowledge), sign=False) as client:

        def get(bearer: str) -> int:
            return client.get(DISCOVERY, headers={"Authorization": f"Bearer {bearer}"}).status_code

        assert [get(token(BASE + DISCOVERY)) for _ in range(4)] == [200, 200, 200, 401]
        other = key("ES256", "other-1")
        assert [get(token(BASE + DISCOVERY, other, iss=OTHER_ISSUER)) for _ in range(3)] == [
            200
        ] * 3


@pytest.mark.parametrize("interval, warnings", [(60.0, 1), (0.0, 4)])
def test_a_full_quota_is_one_warning_a_minute_naming_the_quota(
    tmp_path: Path,
    knowledge: Knowledge,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
    interval: float,
    warnings: int,
) -> None:
    from fhir_module.server import _auth

    monkeypatch.setattr(_auth, "QUOTA_WARNING_SECONDS", interval)
    settings = Settings(db_path=tmp_path / "q.sqlite3", config_path=_two_issuer_config(tmp_path, 2))
    with TestClient(create_app(settings, knowledge), sign=False) as client:
        sent = [token(BASE + DISCOVERY) for _ in range(6)]
        answers = [
            client.get(DISCOVERY, headers={"Authorization": f"Bearer {t}"}).status_code
            for t in sent
        ]
    assert answers == [200, 200, 401, 401, 401, 401]
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    records = [r for r in caplog.records if "replay cache" in r.getMessage()]
    assert [r.levelname for r in records] == ["WARNING"] * warnings
    assert all(
        "full" in r.getMessage()
        and "2 unexpired" in r.getMessage()
        and "replay_quota" in r.getMessage()
        for r in records
    )
    import jwt

    for sent_token in sent:
        assert sent_token not in caplog.text
        assert jwt.decode(sent_token, options={"verify_signature": False})["jti"] not in caplog.text


@pytest.mark.parametrize("value", ["0", "-1", "true", '"many"', "1.5"])
def test_a_bad_replay_quota_in_the_config_is_refused(tmp_path: Path, value: str) -> None:
    from fhir_module.errors import ConfigError

    path = write_config(tmp_path)
    path.write_text(f"replay_quota = {value}\n" + path.read_text())
    with pytest.raises(ConfigError, match="replay_quota"):
        load_config(path)


def test_the_replay_quota_setting() -> None:
    assert Settings.from_env({"FHIR_MODULE_REPLAY_QUOTA": "7"}).replay_quota == 7
    assert Settings.from_env(Settings(replay_quota=7).to_env()).replay_quota == 7
    from fhir_module.errors import ConfigError

    for bad in ("0", "lots"):
        with pytest.raises(ConfigError):
            Settings.from_env({"FHIR_MODULE_REPLAY_QUOTA": bad})
    assert ISSUER != OTHER_ISSUER


# ----- every stored string is bounded

SIGN = "/cds-services/medication-safety-order-sign"
FEEDBACK = SIGN + "/feedback"
LONG_ID = "x" * 257
LONG_TEXT = "y" * 1025


def _item(**changes: object) -> dict[str, object]:
    item: dict[str, object] = {
        "card": "c-1",
        "outcome": "overridden",
        "outcomeTimestamp": "2024-05-01T10:00:00Z",
        "overrideReason": {
            "reason": {"system": "http://x.org/r", "code": "r-1", "display": "Reason"},
            "userComment": "checked",
        },
    }
    item.update(changes)
    return item


def _reason(**changes: object) -> dict[str, object]:
    coding: dict[str, object] = {"system": "http://x.org/r", "code": "r-1", "display": "Reason"}
    coding.update(changes)
    return {"reason": coding}


@pytest.mark.parametrize(
    "item, expression",
    [
        (_item(card=LONG_ID), "feedback[0].card"),
        (
            _item(outcome="accepted", acceptedSuggestions=[{"id": LONG_ID}]),
            "feedback[0].acceptedSuggestions[0].id",
        ),
        (_item(overrideReason=_reason(code=LONG_ID)), "feedback[0].overrideReason.reason.code"),
        (
            _item(overrideReason=_reason(system="http://x.org/" + LONG_TEXT)),
            "feedback[0].overrideReason.reason.system",
        ),
        (
            _item(overrideReason=_reason(display=LONG_TEXT)),
            "feedback[0].overrideReason.reason.display",
        ),
        (
            _item(overrideReason={"userComment": LONG_TEXT}),
            "feedback[0].overrideReason.userComment",
        ),
    ],
)
def test_an_overlong_feedback_string_is_a_400(
    open_client: TestClient, item: dict[str, object], expression: str
) -> None:
    response = open_client.post(FEEDBACK, json={"feedback": [item]})
    assert response.status_code == 400
    (issue,) = response.json()["issue"]
    assert (issue["expression"], issue["code"]) == ([expression], "too-long")
    assert LONG_ID not in response.text and LONG_TEXT not in response.text


def test_strings_at_the_bound_are_stored(open_client: TestClient) -> None:
    item = _item(card="c" * 256, overrideReason={**_reason(code="r" * 256), "userComment": "z"})
    assert open_client.post(FEEDBACK, json={"feedback": [item]}).status_code == 200


def test_an_overlong_hook_instance_is_a_400(open_client: TestClient) -> None:
    from ._requests import hook_request

    for instance, status in ((LONG_ID, 400), ("h" * 256, 200)):
        request = hook_request()
        request["hookInstance"] = instance
        response = open_client.post(SIGN, json=request)
        assert response.status_code == status
        if status == 400:
            assert response.json()["issue"][0]["expression"] == ["hookInstance"]


# ----- override comments: their length, not their text, unless the deployer asks


def _stored(db: Path, sql: str) -> list[tuple[object, ...]]:
    import sqlite3

    with sqlite3.connect(db) as conn:
        rows = conn.execute(sql).fetchall()
    conn.close()
    return rows


@pytest.mark.parametrize(
    "store_comments, comment, expected",
    [
        (False, "Mrs Zebedee, MRN 0042, asked for it", (None, 35)),
        (False, None, (None, None)),
        (True, "Mrs Zebedee, MRN 0042, asked for it", ("Mrs Zebedee, MRN 0042, asked for it", 35)),
        (True, None, (None, None)),
    ],
)
def test_comments_are_stored_only_when_asked(
    open_settings: Settings,
    knowledge: Knowledge,
    store_comments: bool,
    comment: str | None,
    expected: tuple[object, object],
) -> None:
    settings = dataclasses.replace(open_settings, store_comments=store_comments)
    reason: dict[str, object] = _reason()
    if comment is not None:
        reason["userComment"] = comment
    with TestClient(create_app(settings, knowledge)) as client:
        body = {"feedback": [_item(overrideReason=reason)]}
        assert client.post(FEEDBACK, json=body).status_code == 200
    assert _stored(settings.db_path, "SELECT user_comment, comment_length FROM feedback") == [
        expected
    ]
    raw = b"".join(p.read_bytes() for p in settings.db_path.parent.glob("open.sqlite3*"))
    assert (b"Zebedee" in raw) == (store_comments and comment is not None)


def test_the_store_comments_setting() -> None:
    from fhir_module.errors import ConfigError

    assert Settings.from_env({}).store_comments is False
    assert Settings.from_env({"FHIR_MODULE_STORE_COMMENTS": "true"}).store_comments is True
    assert Settings.from_env(Settings(store_comments=True).to_env()).store_comments is True
    with pytest.raises(ConfigError):
        Settings.from_env({"FHIR_MODULE_STORE_COMMENTS": "maybe"})


def test_an_old_database_is_migrated_in_place(tmp_path: Path) -> None:
    import sqlite3

    from fhir_module.server import Store
    from fhir_module.server._store import MIGRATIONS, SCHEMA_VERSION

    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema', '1')")
    conn.execute(
        "INSERT INTO feedback (service_id, card_uuid, outcome, outcome_timestamp,"
        " accepted_suggestions, user_comment, known_card, received_at)"
        " VALUES ('s', 'c', 'overridden', 't', '[]', 'four', 0, 'r')"
    )
    conn.commit()
    conn.close()
    Store(db).close()
    Store(db).close()  # a second start finds nothing to do
    assert _stored(db, "SELECT value FROM meta WHERE name = 'schema'") == [(str(SCHEMA_VERSION),)]
    assert _stored(db, "SELECT comment_length FROM feedback") == [(4,)]
    # A database of a newer version is not written by this one.
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE meta SET value = ? WHERE name = 'schema'", (str(SCHEMA_VERSION + 1),))
    conn.close()
    from fhir_module.server._store import StoreUnavailable

    with pytest.raises(StoreUnavailable):
        Store(db)


# ----- the audit key apart from the audit; private files


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


def test_the_key_sits_in_its_own_private_file_and_the_database_is_private(
    open_settings: Settings, knowledge: Knowledge
) -> None:
    from ._requests import hook_request

    with TestClient(create_app(open_settings, knowledge)) as client:
        assert client.post(SIGN, json=hook_request()).status_code == 200
        db = open_settings.db_path
        files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        assert [_mode(p) for p in files] == [0o600] * 3
        key_file = db.with_name(db.name + ".key")
        assert _mode(key_file) == 0o600
        key = bytes.fromhex(key_file.read_text().strip())
        raw = b"".join(p.read_bytes() for p in files)
        assert key not in raw and key.hex().encode() not in raw
        store = client.app.state.store  # type: ignore[attr-defined]
        import hashlib
        import hmac

        assert store.patient_hash("p") == hmac.new(key, b"p", hashlib.sha256).hexdigest()


def test_a_key_in_the_environment_needs_no_file(tmp_path: Path) -> None:
    from fhir_module.server import Store

    store = Store(tmp_path / "e.sqlite3", b"e" * 32)
    store.close()
    assert not (tmp_path / "e.sqlite3.key").exists()


def test_a_key_file_elsewhere_is_shared(tmp_path: Path) -> None:
    from fhir_module.server import Store

    key_file = tmp_path / "secrets" / "audit.key"
    one = Store(tmp_path / "one.sqlite3", key_file=key_file)
    two = Store(tmp_path / "two.sqlite3", key_file=key_file)
    try:
        assert one.patient_hash("p") == two.patient_hash("p")
        assert _mode(key_file) == 0o600
    finally:
        one.close()
        two.close()


def test_a_key_kept_in_an_old_database_is_moved_out(tmp_path: Path) -> None:
    import hashlib
    import hmac
    import sqlite3

    from fhir_module.server import Store
    from fhir_module.server._store import MIGRATIONS

    db = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(db)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("INSERT INTO meta VALUES ('schema', '1'), ('audit_key', ?)", (b"o" * 32,))
    conn.commit()
    conn.close()
    store = Store(db)
    try:
        assert store.patient_hash("p") == hmac.new(b"o" * 32, b"p", hashlib.sha256).hexdigest()
    finally:
        store.close()
    assert _stored(db, "SELECT name FROM meta ORDER BY name") == [
        ("audit_key_check",),
        ("schema",),
    ]
    assert bytes.fromhex((tmp_path / "old.sqlite3.key").read_text()) == b"o" * 32


@pytest.mark.parametrize(
    "mode, content, error",
    [
        (0o644, "k" * 32, "others may read it"),
        (0o640, "k" * 32, "others may read it"),
        (0o600, "short", "at least 16 bytes"),
    ],
)
def test_a_bad_key_file_stops_the_start_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: int, content: str, error: str
) -> None:
    import os

    from fhir_module.cli import main

    key_file = tmp_path / "audit.key"
    key_file.write_text(content)
    os.chmod(key_file, mode)
    os.environ["FHIR_MODULE_AUDIT_KEY_FILE"] = str(key_file)
    try:
        assert main(["serve", "--db", str(tmp_path / "k.sqlite3")]) == 2
    finally:
        del os.environ["FHIR_MODULE_AUDIT_KEY_FILE"]
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and error in err[-1] and content not in err[-1]


# ----- retention and the feedback rate


def _feedback(card: str, moment: str = "2024-05-01T10:00:00Z") -> list[object]:
    from fhir_module.hooks import parse_feedback

    return list(parse_feedback({"feedback": [_item(card=card, outcomeTimestamp=moment)]}))


def _call(store: object, uuid: str) -> None:
    store.record_call(  # type: ignore[attr-defined]
        hook_instance="h",
        service_id="s",
        hook="order-sign",
        patient_id="p",
        cards=[{"uuid": uuid, "indicator": "info"}],
    )


@pytest.mark.parametrize(
    "retention_days, age_days, kept",
    [(None, 4000, True), (30, 29, True), (30, 31, False), (1, 2, False), (1, 0.5, True)],
)
def test_rows_older_than_the_retention_are_deleted(
    tmp_path: Path, retention_days: int | None, age_days: float, kept: bool
) -> None:
    from fhir_module.server import Store
    from fhir_module.server._store import PURGE_INTERVAL_SECONDS

    now = [1_700_000_000.0]
    store = Store(tmp_path / "r.sqlite3", retention_days=retention_days, clock=lambda: now[0])
    try:
        _call(store, "old-card")
        store.record_feedback("s", _feedback("old-card"))  # type: ignore[arg-type]
        now[0] += age_days * 86400
        _call(store, "new-card")  # the hourly purge is due: it runs first
        store.record_feedback("s", _feedback("new-card"))  # type: ignore[arg-type]
        assert now[0] - 1_700_000_000.0 >= PURGE_INTERVAL_SECONDS
    finally:
        store.close()
    db = tmp_path / "r.sqlite3"
    old = [("old-card",)] if kept else []
    assert _stored(db, "SELECT card_uuid FROM card_shown ORDER BY call_id") == old + [("new-card",)]
    assert _stored(db, "SELECT card_uuid FROM feedback ORDER BY id") == old + [("new-card",)]
    assert _stored(db, "SELECT COUNT(*) FROM hook_call") == [(len(old) + 1,)]


def test_feedback_is_capped_per_client_and_minute(tmp_path: Path) -> None:
    from fhir_module.server import Store
    from fhir_module.server._store import TooMuchFeedback

    now = [1_700_000_000.0]
    store = Store(tmp_path / "f.sqlite3", feedback_per_minute=3, clock=lambda: now[0])
    try:
        items = [*_feedback("a"), *_feedback("b")]
        assert store.record_feedback("s", items, "ehr-1") == 2  # type: ignore[arg-type]
        with pytest.raises(TooMuchFeedback):
            store.record_feedback("s", items, "ehr-1")  # type: ignore[arg-type]
        assert store.record_feedback("s", _feedback("c"), "ehr-1") == 1  # type: ignore[arg-type]
        with pytest.raises(TooMuchFeedback):
            store.record_feedback("s", _feedback("d"), "ehr-1")  # type: ignore[arg-type]
        others = [*_feedback("e"), *_feedback("f")]
        assert store.record_feedback("s", others, "ehr-2") == 2  # type: ignore[arg-type]
        now[0] += 60
        assert store.record_feedback("s", _feedback("d"), "ehr-1") == 1  # type: ignore[arg-type]
    finally:
        store.close()
    assert _stored(tmp_path / "f.sqlite3", "SELECT card_uuid FROM feedback ORDER BY id") == [
        ("a",),
        ("b",),
        ("c",),
        ("e",),
        ("f",),
        ("d",),
    ]


def test_too_much_feedback_is_a_429_with_an_outcome(
    open_settings: Settings, knowledge: Knowledge
) -> None:
    settings = dataclasses.replace(open_settings, feedback_per_minute=2)
    with TestClient(create_app(settings, knowledge)) as client:
        body = {"feedback": [_item(card="c-1"), _item(card="c-2")]}
        assert client.post(FEEDBACK, json=body).status_code == 200
        response = client.post(FEEDBACK, json={"feedback": [_item(card="c-3")]})
    assert response.status_code == 429
    assert response.headers["content-type"].startswith("application/fhir+json")
    (issue,) = response.json()["issue"]
    assert issue["code"] == "throttled" and "2 items per client per minute" in issue["diagnostics"]
    assert _stored(settings.db_path, "SELECT card_uuid FROM feedback") == [("c-1",), ("c-2",)]


def test_the_retention_and_rate_settings() -> None:
    from fhir_module.errors import ConfigError

    env = {"FHIR_MODULE_RETENTION_DAYS": "90", "FHIR_MODULE_FEEDBACK_PER_MINUTE": "600"}
    settings = Settings.from_env(env)
    assert (settings.retention_days, settings.feedback_per_minute) == (90, 600)
    assert Settings.from_env(settings.to_env()) == settings
    assert (Settings().retention_days, Settings().feedback_per_minute) == (None, None)
    for bad in ({"FHIR_MODULE_RETENTION_DAYS": "0"}, {"FHIR_MODULE_FEEDBACK_PER_MINUTE": "x"}):
        with pytest.raises(ConfigError):
            Settings.from_env(bad)


# ----- feedback the service cannot tie to what it showed is kept apart


def _shown(client: TestClient, service: str = SIGN) -> dict[str, object]:
    from ._requests import hook_request

    hook = "order-select" if service.endswith("select") else "order-sign"
    request = hook_request(hook)
    if hook == "order-select":
        request["context"]["selections"] = [
            f"MedicationRequest/{e['resource']['id']}"
            for e in request["context"]["draftOrders"]["entry"]
        ]
    response = client.post(service, json=request)
    assert response.status_code == 200, response.text
    cards = response.json()["cards"]
    return next(c for c in cards if c.get("suggestions") and c.get("overrideReasons"))


def _apart_cases(card: dict[str, object]) -> list[tuple[dict[str, object], str | None]]:
    suggestion = card["suggestions"][0]["uuid"]  # type: ignore[index]
    offered = card["overrideReasons"][0]  # type: ignore[index]
    moment = iter(f"2024-05-01T10:{m:02d}:00Z" for m in range(60))

    def item(**fields: object) -> dict[str, object]:
        return {"card": card["uuid"], "outcomeTimestamp": next(moment), **fields}

    return [
        (item(outcome="accepted", acceptedSuggestions=[{"id": suggestion}]), None),
        (item(outcome="overridden", overrideReason={"reason": offered}), None),
        (item(outcome="overridden"), None),
        (item(outcome="accepted", acceptedSuggestions=[{"id": "forged"}]), "unknown-suggestion"),
        (
            item(outcome="accepted", acceptedSuggestions=[{"id": suggestion}, {"id": "x"}]),
            "unknown-suggestion",
        ),
        (
            item(
                outcome="overridden",
                overrideReason={"reason": {"system": "http://x.org", "code": "made-up"}},
            ),
            "reason-not-offered",
        ),
        (
            item(
                outcome="overridden",
                overrideReason={"reason": {**offered, "system": "http://other.org"}},  # type: ignore[dict-item]
            ),
            "reason-not-offered",
        ),
        ({**item(outcome="overridden"), "card": "never-issued"}, "unknown-card"),
    ]


def test_feedback_not_tied_to_a_shown_card_is_kept_apart(
    open_client: TestClient, open_settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    from fhir_module.cli import main

    card = _shown(open_client)
    cases = _apart_cases(card)
    body = {"feedback": [item for item, _ in cases]}
    assert open_client.post(FEEDBACK, json=body).status_code == 200
    # A card of one service is unknown to the other.
    select_feedback = "/cds-services/medication-safety-order-select/feedback"
    item = {
        "card": card["uuid"],
        "outcome": "overridden",
        "outcomeTimestamp": "2024-05-02T00:00:00Z",
    }
    assert open_client.post(select_feedback, json={"feedback": [item]}).status_code == 200
    stored = _stored(open_settings.db_path, "SELECT apart FROM feedback ORDER BY id")
    assert stored == [(apart,) for _, apart in cases] + [("unknown-card",)]

    assert main(["feedback-report", "--db", str(open_settings.db_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    table = [re.split(r"\s{2,}", line.strip()) for line in lines[1:] if line[0] != " "]
    rows = {(drug, rule): figures for drug, rule, *figures in table}
    rule = card["source"]["topic"]["code"]  # type: ignore[index]
    plan = "http://fhir-module.org/fhir/PlanDefinition/baclofen-order-safety|0.1.0"
    assert rows[(plan, rule)][1:] == ["1", "2"]  # shown, accepted 1, overridden 2: only what counts
    # kept apart with the drug of the card they name; a card never shown has none
    assert rows[(plan, "(suggestion not on the card)")] == ["0", "2", "0"]
    assert rows[(plan, "(reason not offered by the card)")] == ["0", "0", "2"]
    assert rows[("(unknown)", "(unknown card)")] == ["0", "0", "2"]


# ----- a database that cannot be written: 503 for feedback, answers still out, /health


def _break(store: object, how: str) -> None:
    for conn in (store._conn, store._audit):  # type: ignore[attr-defined]
        if how == "read-only":
            conn.execute("PRAGMA query_only = ON")
        else:  # full: not one more page
            (pages,) = conn.execute("PRAGMA page_count").fetchone()
            conn.execute(f"PRAGMA max_page_count = {pages}")


def _mend(store: object) -> None:
    for conn in (store._conn, store._audit):  # type: ignore[attr-defined]
        conn.execute("PRAGMA query_only = OFF")
        conn.execute("PRAGMA max_page_count = 1073741823")


@pytest.mark.parametrize("how", ["read-only", "full"])
def test_an_unwritable_database_gives_503_for_feedback_and_still_answers_hooks(
    open_settings: Settings,
    knowledge: Knowledge,
    how: str,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import logging

    from fhir_module.server import _store

    from ._requests import hook_request

    caplog.set_level(logging.INFO)
    with TestClient(create_app(open_settings, knowledge)) as client:
        assert client.get("/health").status_code == 200
        store = client.app.state.store  # type: ignore[attr-defined]
        _break(store, how)
        statuses = set()
        for i in range(40):  # a full database may still fit a row or two in its last page
            item = _item(card=f"c-{i}", overrideReason=_reason(display="d" * 1000))
            response = client.post(FEEDBACK, json={"feedback": [item]})
            statuses.add(response.status_code)
        assert response.status_code == 503 and statuses <= {200, 503}
        assert response.json()["issue"][0]["code"] == "transient"
        for _ in range(15):
            answer = client.post(SIGN, json=hook_request())
            assert answer.status_code == 200 and answer.json()["cards"]
        health = client.get("/health")
        assert health.status_code == 503
        assert health.json()["database"] == "unavailable"
        assert health.json()["auditFailures"] >= 5
        assert caplog.text.count("audit not written") == 1
        assert caplog.text.count("feedback not stored") == 1
        _mend(store)
        monkeypatch.setattr(_store, "FAILED_WRITE_HOLD_SECONDS", 0.0)
        assert client.post(SIGN, json=hook_request()).status_code == 200
        assert client.get("/health").status_code == 200
        assert "audit written again" in caplog.text
    for record in caplog.records:
        assert "Traceback" not in record.getMessage()


def test_an_unwritable_replay_cache_is_503_not_401(
    settings: Settings, knowledge: Knowledge
) -> None:
    from ._requests import hook_request

    with TestClient(create_app(settings, knowledge)) as client:
        assert client.post(SIGN, json=hook_request()).status_code == 200
        replay = client.app.state.replay  # type: ignore[attr-defined]
        replay._conn.execute("PRAGMA query_only = ON")
        for _ in range(3):
            response = client.post(SIGN, json=hook_request())
            assert response.status_code == 503
            assert response.json()["issue"][0]["code"] == "transient"


def test_health_needs_no_token_and_tells_no_data(settings: Settings, knowledge: Knowledge) -> None:
    with TestClient(create_app(settings, knowledge), sign=False) as client:
        assert client.get(DISCOVERY).status_code == 401
        response = client.get("/health")
        assert response.status_code == 200
        assert response.json() == {
            "status": "pass",
            "knowledge": "loaded",
            "database": "writable",
            "auditFailures": 0,
        }
        assert client.post("/health").status_code in (401, 405)


def test_the_report_on_a_database_not_yet_migrated_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    from fhir_module.cli import main
    from fhir_module.server._store import MIGRATIONS

    db = tmp_path / "v1.sqlite3"
    conn = sqlite3.connect(db)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.commit()
    conn.close()
    assert main(["feedback-report", "--db", str(db)]) == 2
    assert "start the service on it once" in capsys.readouterr().err


def test_any_fault_of_the_audit_still_lets_the_cards_out(
    open_client: TestClient, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ._requests import hook_request

    store = open_client.app.state.store  # type: ignore[attr-defined]

    def broken(**_: object) -> None:
        raise RuntimeError("a driver's own error")

    monkeypatch.setattr(store, "record_call", broken)
    response = open_client.post(SIGN, json=hook_request())
    assert response.status_code == 200 and response.json()["cards"]
    assert "audit not written: RuntimeError" in caplog.text
