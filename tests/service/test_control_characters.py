"""Control characters in the strings the service stores: refused with a 400 naming the
field, on SQLite and PostgreSQL alike (PostgreSQL cannot store NUL at all), and an audit
write that fails for any reason is counted in /health."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fhir_module.hooks import parse_feedback
from fhir_module.server import Settings, Store, create_app, is_postgres_url

from ._postgres import query
from ._requests import hook_request
from .conftest import TestClient

KEY = b"a shared audit key, 32 bytes...."
SIGN = "/cds-services/medication-safety-order-sign"
OVERRIDDEN = {
    "card": "card-1",
    "outcome": "overridden",
    "outcomeTimestamp": "2024-05-01T10:01:00Z",
    "overrideReason": {
        "reason": {"system": "http://x.org/r", "code": "dose-intended"},
        "userComment": "dose intended",
    },
}


def _settings(db_target: Path | str) -> Settings:
    if is_postgres_url(db_target):
        return Settings(db_url=str(db_target), audit_key=KEY)
    return Settings(db_path=Path(db_target), audit_key=KEY)


def _with(body: dict[str, Any], path: tuple[str, ...], value: str) -> dict[str, Any]:
    copy: Any = {**body}
    node = copy
    for key in path[:-1]:
        node[key] = {**node[key]}
        node = node[key]
    node[path[-1]] = value
    return copy


FEEDBACK_FIELDS = [
    (("card",), "x\u0000y", "feedback[0].card"),
    (("card",), "x\ny", "feedback[0].card"),
    (("overrideReason", "reason", "code"), "a\u0000", "feedback[0].overrideReason.reason.code"),
    (
        ("overrideReason", "reason", "system"),
        "http://x.org/\u001b",
        "feedback[0].overrideReason.reason.system",
    ),
    (
        ("overrideReason", "reason", "display"),
        "a\u0000b",
        "feedback[0].overrideReason.reason.display",
    ),
    (("overrideReason", "userComment"), "end\u0000", "feedback[0].overrideReason.userComment"),
    (("overrideReason", "userComment"), "a\rb", "feedback[0].overrideReason.userComment"),
    (("overrideReason", "userComment"), "a\u0085b", "feedback[0].overrideReason.userComment"),
]


@pytest.mark.parametrize(("path", "value", "field"), FEEDBACK_FIELDS)
def test_feedback_with_a_control_character_is_a_400_naming_the_field(
    db_target: Path | str, knowledge: Any, path: tuple[str, ...], value: str, field: str
) -> None:
    item = _with(OVERRIDDEN, path, value)
    with TestClient(create_app(_settings(db_target), knowledge)) as client:
        answer = client.post(SIGN + "/feedback", json={"feedback": [item]})
        assert answer.status_code == 400
        issue = answer.json()["issue"][0]
        assert issue["expression"] == [field]
        assert "control characters" in issue["diagnostics"]
        assert value not in answer.text
    assert query(_settings(db_target).database, "SELECT COUNT(*) FROM feedback") == [(0,)]


def test_a_comment_keeps_its_line_feeds_and_tabs(db_target: Path | str) -> None:
    item = _with(OVERRIDDEN, ("overrideReason", "userComment"), "line one\n\tline two")
    s = Store(db_target, KEY, store_comments=True)
    try:
        assert s.record_feedback("svc", parse_feedback({"feedback": [item]})) == 1
    finally:
        s.close()
    assert query(db_target, "SELECT user_comment FROM feedback") == [("line one\n\tline two",)]


@pytest.mark.parametrize("instance", ["abc\u0000def", "abc\u007fdef", "abc\tdef"])
def test_a_hook_instance_with_a_control_character_is_a_400(
    db_target: Path | str, knowledge: Any, instance: str
) -> None:
    with TestClient(create_app(_settings(db_target), knowledge)) as client:
        answer = client.post(SIGN, json={**hook_request(), "hookInstance": instance})
        assert answer.status_code == 400
        assert answer.json()["issue"][0]["expression"] == ["hookInstance"]
        assert client.get("/health").json()["auditFailures"] == 0
    assert query(_settings(db_target).database, "SELECT COUNT(*) FROM hook_call") == [(0,)]


class _Unexpected(Exception):
    pass


def test_any_failure_to_write_the_audit_is_counted(
    db_target: Path | str,
    knowledge: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    def fail(*_: Any) -> None:
        raise _Unexpected("a value the database refuses")

    with TestClient(create_app(_settings(db_target), knowledge)) as client:
        monkeypatch.setattr(Store, "_write_call", fail)
        for _ in range(2):
            answer = client.post(SIGN, json=hook_request())
            assert answer.status_code == 200 and answer.json()["cards"]
        assert client.get("/health").json()["auditFailures"] == 2
        monkeypatch.undo()
        assert client.post(SIGN, json=hook_request()).status_code == 200
        assert client.get("/health").json()["auditFailures"] == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors and all("_Unexpected" in e for e in errors)
    assert "database refuses" not in caplog.text


def test_a_value_the_database_refuses_counts_as_an_audit_failure(db_target: Path | str) -> None:
    # Below the request checks: whatever the database raises for a value is counted.
    s = Store(db_target, KEY)
    try:
        card = {"uuid": "c\u0000" if is_postgres_url(db_target) else "c", "indicator": "info"}
        if is_postgres_url(db_target):
            with pytest.raises(Exception):  # noqa: B017, PT011 - psycopg's DataError
                s.record_call(
                    hook_instance="h",
                    service_id="svc",
                    hook="order-sign",
                    patient_id="p",
                    cards=[card],
                )
            assert s.audit_failures == 1
        else:
            s.record_call(
                hook_instance="h", service_id="svc", hook="order-sign", patient_id="p", cards=[card]
            )
            assert s.audit_failures == 0
    finally:
        s.close()
