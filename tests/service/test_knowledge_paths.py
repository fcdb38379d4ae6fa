"""fhir-module serve --knowledge PATH / --no-builtin-knowledge, and the same knowledge in
every worker (FHIR_MODULE_KNOWLEDGE, FHIR_MODULE_NO_BUILTIN_KNOWLEDGE)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

import fhir_module.server as service
from fhir_module.cli import main
from fhir_module.errors import ConfigError
from fhir_module.server import Settings

from .conftest import TestClient

ROOT = Path(__file__).resolve().parents[2]
SECOND_DRUG = ROOT / "tests" / "second_drug" / "knowledge"
BOTH_DRUGS = ["medication-safety-order-select", "medication-safety-order-sign"]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No FHIR_MODULE_* setting from outside; those serve sets are undone after the test."""
    for name in Settings().to_env():
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)


@pytest.fixture
def uvicorn_calls(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    import uvicorn

    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append({"app": app, **kw}))
    return calls


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package") / "baclofen.tgz"
    assert main(["package", "--out", str(out)]) == 0
    return out


def test_knowledge_settings_round_trip_through_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, package: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "site").mkdir()
    settings = Settings(knowledge_paths=(Path("site"), package), builtin_knowledge=False)
    env = settings.to_env()
    # absolute, so a worker started in another directory finds them
    assert env["FHIR_MODULE_KNOWLEDGE"] == os.pathsep.join([str(tmp_path / "site"), str(package)])
    assert env["FHIR_MODULE_NO_BUILTIN_KNOWLEDGE"] == "1"
    again = Settings.from_env(env)
    assert again.knowledge_paths == (tmp_path / "site", package)
    assert again.builtin_knowledge is False
    assert Settings.from_env(again.to_env()) == again
    # the defaults: the built-in knowledge alone, and so back again
    assert Settings().to_env()["FHIR_MODULE_KNOWLEDGE"] == ""
    assert Settings.from_env(Settings().to_env()) == Settings()


def test_one_path_given_as_text_is_one_path() -> None:
    assert Settings(knowledge_paths="site/a").knowledge_paths == (Path("site/a"),)  # type: ignore[arg-type]
    assert Settings(knowledge_paths=["a", "b"]).knowledge_paths == (Path("a"), Path("b"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "builtin"), [("1", False), ("true", False), ("0", True), ("", True)]
)
def test_no_builtin_knowledge_is_a_flag(value: str, builtin: bool) -> None:
    env = {"FHIR_MODULE_NO_BUILTIN_KNOWLEDGE": value}
    assert Settings.from_env(env).builtin_knowledge is builtin


def test_a_flag_that_is_neither_is_refused() -> None:
    with pytest.raises(ConfigError):
        Settings.from_env({"FHIR_MODULE_NO_BUILTIN_KNOWLEDGE": "maybe"})


def test_serve_with_workers_hands_the_knowledge_to_them(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_env: None,
    uvicorn_calls: list[dict[str, Any]],
    package: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copytree(SECOND_DRUG, tmp_path / "second")  # named relative to here
    argv = ["serve", "--workers", "2", "--db", str(tmp_path / "w.sqlite3")]
    argv += ["--knowledge", str(package), "--knowledge", "second", "--no-builtin-knowledge"]
    assert main(argv) == 0
    [call] = uvicorn_calls
    assert (call["app"], call["workers"]) == ("fhir_module.server:app_from_env", 2)
    # a worker rebuilds the settings from the environment serve left for it
    settings = Settings.from_env()
    assert settings.knowledge_paths == (package, tmp_path / "second")
    assert settings.builtin_knowledge is False
    # and the worker's app, made by uvicorn's factory, loads that knowledge
    app = service.app_from_env()
    with TestClient(app) as client:
        ids = sorted(s["id"] for s in client.get("/cds-services").json()["services"])
    assert ids == BOTH_DRUGS


def test_serve_with_one_worker_runs_the_knowledge_given(
    tmp_path: Path, clean_env: None, uvicorn_calls: list[dict[str, Any]]
) -> None:
    db = tmp_path / "one.sqlite3"
    assert main(["serve", "--db", str(db), "--knowledge", str(SECOND_DRUG)]) == 0
    [call] = uvicorn_calls
    app = call["app"]
    try:
        assert sorted(d.id for d in app.state.knowledge.drugs) == ["baclofen", "tizanidine"]
    finally:
        app.state.store.close()


def test_app_from_env_loads_the_environments_knowledge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    monkeypatch.setenv("FHIR_MODULE_DB", str(tmp_path / "env.sqlite3"))
    monkeypatch.setenv("FHIR_MODULE_KNOWLEDGE", str(SECOND_DRUG))
    with TestClient(service.app_from_env()) as client:
        ids = sorted(s["id"] for s in client.get("/cds-services").json()["services"])
    assert ids == BOTH_DRUGS
    # without the built-in module, the second drug loads on the base alone
    monkeypatch.setenv("FHIR_MODULE_NO_BUILTIN_KNOWLEDGE", "1")
    app = service.app_from_env()
    with TestClient(app):
        assert [d.id for d in app.state.knowledge.drugs] == ["tizanidine"]
    monkeypatch.setenv("FHIR_MODULE_KNOWLEDGE", str(tmp_path / "gone"))
    with pytest.raises(ConfigError):
        service.app_from_env()


@pytest.mark.parametrize("workers", ["1", "2"])
@pytest.mark.parametrize(
    ("options", "code", "message"),
    [
        (["--knowledge", "{tmp}/missing"], 2, "knowledge: no such file or folder: {tmp}/missing"),
        (["--no-builtin-knowledge"], 2, "no knowledge to load: "),
        (["--knowledge", "{tmp}/empty"], 2, "knowledge: no FHIR JSON resources"),
        (["--knowledge", "{tmp}/broken"], 1, "broken knowledge: x.json: $: is not valid JSON"),
    ],
)
def test_serve_refuses_bad_knowledge_before_it_listens(
    options: list[str],
    code: int,
    message: str,
    workers: str,
    tmp_path: Path,
    clean_env: None,
    uvicorn_calls: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "x.json").write_text('{"resourceType": ')
    db = tmp_path / "db.sqlite3"
    argv = ["serve", "--workers", workers, "--db", str(db)]
    argv += [o.replace("{tmp}", str(tmp_path)) for o in options]
    assert main(argv) == code
    err = capsys.readouterr().err.splitlines()
    assert err[-1].startswith("fhir-module: " + message.replace("{tmp}", str(tmp_path)))
    assert not any("Traceback" in line for line in err)
    assert uvicorn_calls == [] and not db.exists()


def test_the_environments_knowledge_is_checked_as_the_options_are(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_env: None,
    uvicorn_calls: list[dict[str, Any]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("FHIR_MODULE_KNOWLEDGE", str(tmp_path / "nowhere"))
    assert main(["serve", "--workers", "2", "--db", str(tmp_path / "db.sqlite3")]) == 2
    assert "no such file or folder" in capsys.readouterr().err
    # --knowledge replaces the environment's paths
    argv = ["serve", "--workers", "2", "--db", str(tmp_path / "db.sqlite3")]
    assert main([*argv, "--knowledge", str(SECOND_DRUG)]) == 0
    assert Settings.from_env().knowledge_paths == (SECOND_DRUG,)
    assert len(uvicorn_calls) == 1
