"""serve and feedback-report through the command line; Settings from the environment."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

import fhir_module.server as service
from fhir_module.cli import main
from fhir_module.errors import ConfigError
from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, create_app
from fhir_module.server._http import NoDelayH11Protocol

from ._jwt import write_config
from ._requests import hook_request
from .conftest import TestClient

FEEDBACK = "/cds-services/medication-safety-order-sign/feedback"


def test_feedback_report_counts_per_rule(
    settings: Settings, knowledge: Knowledge, capsys: pytest.CaptureFixture[str]
) -> None:
    with TestClient(create_app(settings, knowledge)) as client:
        shown = []
        for _ in range(3):
            shown += client.post(
                "/cds-services/medication-safety-order-sign", json=hook_request()
            ).json()["cards"]
        by_rule: dict[str, list[dict[str, Any]]] = {c["source"]["topic"]["code"]: [] for c in shown}
        for card in shown:
            by_rule[card["source"]["topic"]["code"]].append(card)
        maxdose, starting = by_rule["max-daily-dose"], by_rule["starting-dose"]
        reason = {
            "system": "http://fhir-module.org/fhir/CodeSystem/override-reason",
            "code": "dose-intended",
            "display": "Dose checked and intended",
        }
        items = [
            {
                "card": maxdose[0]["uuid"],
                "outcome": "accepted",
                "acceptedSuggestions": [{"id": maxdose[0]["suggestions"][0]["uuid"]}],
                "outcomeTimestamp": "2024-05-01T10:00:00Z",
            },
            {
                "card": maxdose[1]["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": reason},
                "outcomeTimestamp": "2024-05-01T10:01:00Z",
            },
            {
                "card": starting[0]["uuid"],
                "outcome": "overridden",
                "overrideReason": {"reason": reason},
                "outcomeTimestamp": "2024-05-01T10:02:00Z",
            },
            {
                "card": starting[1]["uuid"],
                "outcome": "overridden",
                "outcomeTimestamp": "2024-05-01T10:03:00Z",
            },
            {
                "card": "not-a-card-of-ours",
                "outcome": "overridden",
                "outcomeTimestamp": "2024-05-01T10:04:00Z",
            },
        ]
        assert client.post(FEEDBACK, json={"feedback": items}).status_code == 200
    assert main(["feedback-report", "--db", str(settings.db_path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["drug", "rule", "shown", "accepted", "overridden"]
    table = [re.split(r"\s{2,}", line.strip()) for line in lines[1:]]
    # Each rule's figures are its drug's: the PlanDefinition's canonical URL and version.
    (drug,) = knowledge.drugs
    plan = f"{drug.plan_url}|{drug.plan_version}"
    assert plan == "http://fhir-module.org/fhir/PlanDefinition/baclofen-order-safety|0.1.0"
    assert table == [
        ["(unknown)", "(unknown card)", "0", "0", "1"],
        ["(no reason given)", "1"],
        [plan, "max-daily-dose", "3", "1", "1"],
        ["Dose checked and intended", "1"],
        [plan, "starting-dose", "3", "0", "2"],
        ["(no reason given)", "1"],
        ["Dose checked and intended", "1"],
    ]
    # reasons are indented under their rule's column
    rule_column = lines[3].index("max-daily-dose")
    assert all(
        line[: rule_column + 4].isspace() for line in lines[1:] if not line.startswith(("(", "h"))
    )


@pytest.mark.parametrize("content", [None, b"this is not a database" * 100, b""])
def test_feedback_report_on_an_unreadable_db_exits_2(
    tmp_path: Path, content: bytes | None, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "x.sqlite3"
    if content is not None:
        db.write_bytes(content)
    assert main(["feedback-report", "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_feedback_report_of_a_fresh_db(
    settings: Settings, knowledge: Knowledge, capsys: pytest.CaptureFixture[str]
) -> None:
    create_app(settings, knowledge).state.store.close()
    assert main(["feedback-report", "--db", str(settings.db_path)]) == 0
    assert "no cards shown" in capsys.readouterr().out


def test_serve_runs_uvicorn_with_the_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    db = tmp_path / "s.sqlite3"
    assert main(["serve", "--port", "8999", "--db", str(db)]) == 0
    assert seen["host"] == "127.0.0.1" and seen["port"] == 8999
    assert seen["app"].state.settings.db_path == db and db.exists()
    seen["app"].state.store.close()


def test_serve_with_workers_uses_the_factory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    for name in Settings().to_env():
        # set, then delete: monkeypatch then restores each name as it was, after serve sets it
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    db = tmp_path / "w.sqlite3"
    config = write_config(tmp_path)
    argv = [
        "serve",
        "--workers",
        "3",
        "--host",
        "0.0.0.0",
        "--db",
        str(db),
        "--config",
        str(config),
    ]
    assert main(argv) == 0
    assert seen == {
        "app": "fhir_module.server:app_from_env",
        "factory": True,
        "host": "0.0.0.0",
        "port": 8080,
        "workers": 3,
        "http": NoDelayH11Protocol,
        "timeout_keep_alive": 5,
        # no proxy is believed unless the deployer names it
        "proxy_headers": False,
        "forwarded_allow_ips": None,
    }
    # the workers rebuild the settings, the config's path with them, from the environment
    assert Settings.from_env().db_path == db
    assert Settings.from_env().config_path == config.resolve()


def test_serve_refuses_an_unusable_db(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    assert main(["serve", "--db", str(tmp_path / "file" / "db.sqlite3")]) == 2
    assert main(["serve", "--workers", "0"]) == 2


def test_settings_defaults_and_environment() -> None:
    assert Settings() == Settings.from_env({})
    assert Settings().db_path == Path("fhir-module.sqlite3") and Settings().port == 8080
    env = {
        "FHIR_MODULE_DB": "/data/x.sqlite3",
        "FHIR_MODULE_PORT": "9000",
        "FHIR_MODULE_FHIR_TIMEOUT": "2.5",
        "FHIR_MODULE_MAX_PAGES": "4",
        "FHIR_MODULE_AUDIT_KEY": "k" * 32,
        "FHIR_MODULE_CORS_ORIGINS": "https://a, https://b",
    }
    settings = Settings.from_env(env)
    assert (
        settings.db_path,
        settings.port,
        settings.fhir_timeout,
        settings.max_pages,
        settings.audit_key,
        settings.cors_origins,
    ) == (Path("/data/x.sqlite3"), 9000, 2.5, 4, b"k" * 32, ("https://a", "https://b"))
    assert Settings.from_env(settings.to_env()) == settings
    assert "kkkk" not in repr(settings)


@pytest.mark.parametrize(
    "env",
    [
        {"FHIR_MODULE_PORT": "eighty"},
        {"FHIR_MODULE_PORT": "0"},
        {"FHIR_MODULE_MAX_PAGES": "0"},
        {"FHIR_MODULE_AUDIT_KEY": "x"},
        {"FHIR_MODULE_HEADER_TIMEOUT": "0"},
        {"FHIR_MODULE_HEADER_TIMEOUT": "soon"},
        {"FHIR_MODULE_IDLE_TIMEOUT": "0"},
        {"FHIR_MODULE_MAX_CONNECTIONS": "0"},
    ],
)
def test_bad_settings_are_refused(env: dict[str, str]) -> None:
    with pytest.raises(ConfigError):
        Settings.from_env(env)


def test_app_from_env_builds_the_service(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FHIR_MODULE_DB", str(tmp_path / "env.sqlite3"))
    app = service.app_from_env()
    with TestClient(app) as client:
        assert len(client.get("/cds-services").json()["services"]) == 2
    with sqlite3.connect(tmp_path / "env.sqlite3") as conn:
        assert conn.execute("SELECT COUNT(*) FROM meta").fetchone() == (2,)
    conn.close()


def test_the_connection_settings_come_from_the_environment() -> None:
    env = {
        "FHIR_MODULE_FORWARDED_ALLOW_IPS": "10.0.0.5, 10.0.0.6",
        "FHIR_MODULE_HEADER_TIMEOUT": "2.5",
        "FHIR_MODULE_IDLE_TIMEOUT": "3",
        "FHIR_MODULE_MAX_CONNECTIONS": "50",
    }
    settings = Settings.from_env(env)
    assert (
        settings.forwarded_allow_ips,
        settings.header_timeout,
        settings.idle_timeout,
        settings.max_connections,
    ) == (("10.0.0.5", "10.0.0.6"), 2.5, 3, 50)
    assert Settings.from_env(settings.to_env()) == settings
    assert Settings().forwarded_allow_ips == ()


def test_serve_believes_forwarded_headers_only_from_named_proxies(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn

    seen: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: seen.update(app=app, **kw))
    monkeypatch.setenv("FHIR_MODULE_FORWARDED_ALLOW_IPS", "10.0.0.5")
    monkeypatch.setenv("FHIR_MODULE_IDLE_TIMEOUT", "7")
    assert main(["serve", "--db", str(tmp_path / "f.sqlite3")]) == 0
    assert seen["proxy_headers"] is True and seen["forwarded_allow_ips"] == ["10.0.0.5"]
    assert seen["timeout_keep_alive"] == 7
    seen["app"].state.store.close()


@pytest.mark.parametrize(
    ("name", "value"),
    [("MAX_ENTRIES", "many"), ("FHIR_TIMEOUT", "soon"), ("REPLAY_QUOTA", "1e3")],
)
def test_a_variable_that_does_not_parse_is_named_alone(name: str, value: str) -> None:
    from fhir_module.hooks import LocalSettings

    variable = f"FHIR_MODULE_{name}"
    for read in (Settings.from_env, LocalSettings.from_env):
        if name == "REPLAY_QUOTA" and read == LocalSettings.from_env:
            continue  # the replay cache is the service's alone
        with pytest.raises(ConfigError) as caught:
            read({variable: value})
        assert caught.value.expression == variable
        assert str(caught.value).startswith(f"{variable}: must be ")
        others = re.findall(r"_[A-Z][A-Z_]+", str(caught.value).removeprefix(variable))
        assert others == [], str(caught.value)
