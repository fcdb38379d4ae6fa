"""The service ids: one per hook, stable whatever drug modules are loaded, configurable
(config file, Python API, CLI) and refused when they are not safe in a URL path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from fhir_module import evaluate
from fhir_module.cli import main
from fhir_module.errors import ConfigError, InvalidRequest
from fhir_module.facts import prefetch_templates
from fhir_module.hooks import check_service_id, default_service_id, handle_hook, services
from fhir_module.knowledge import Knowledge, load_knowledge
from fhir_module.server import Settings, create_app, load_config

from ._jwt import write_config
from ._requests import hook_request
from .conftest import TestClient

ROOT = Path(__file__).resolve().parents[2]
SECOND_DRUG = ROOT / "tests" / "second_drug" / "knowledge"
IDS = ["medication-safety-order-select", "medication-safety-order-sign"]


@pytest.fixture(scope="module")
def two_drugs() -> Knowledge:
    return load_knowledge(SECOND_DRUG)


def with_ids(config: Path, **ids: str) -> Path:
    """The config file with a [service_ids] table (hook = id) added at its end."""
    table = "".join(f'"{hook}" = "{sid}"\n' for hook, sid in ids.items())
    config.write_text(config.read_text() + "[service_ids]\n" + table)
    return config


def discovery(client: TestClient) -> list[dict[str, Any]]:
    response = client.get("/cds-services")
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()["services"]
    return found


def test_one_drug_gets_the_stable_ids(client: TestClient, knowledge: Knowledge) -> None:
    found = discovery(client)
    assert [s["id"] for s in found] == IDS
    for entry in found:
        hook = entry["hook"]
        assert entry["id"] == default_service_id(hook) == f"medication-safety-{hook}"
        assert entry["title"] == f"Medication safety ({hook})"
        assert "the 1 drug module loaded (baclofen)" in entry["description"]
        assert entry["prefetch"] == prefetch_templates(knowledge)
        usage = entry["usageRequirements"]
        # the resource types the templates read, from the modules' declarations
        for resource_type in ("Patient", "Observation", "Condition", "MedicationRequest"):
            assert resource_type in usage
        assert "412" in usage


def test_a_second_drug_keeps_the_same_ids(settings: Settings, two_drugs: Knowledge) -> None:
    with TestClient(create_app(settings, two_drugs)) as client:
        found = discovery(client)
        assert [s["id"] for s in found] == IDS
        assert [s["title"] for s in found] == [
            "Medication safety (order-select)",
            "Medication safety (order-sign)",
        ]
        for entry in found:
            assert "the 2 drug modules loaded (baclofen, tizanidine)" in entry["description"]
            # one sentence, not the PlanDefinitions' descriptions run together
            assert entry["description"].count(". ") == 0
        # the same text every time for the same knowledge
        assert discovery(client) == found
        response = client.post("/cds-services/medication-safety-order-sign", json=hook_request())
        assert response.status_code == 200 and response.json()["cards"]


@pytest.mark.parametrize(
    "old", ["baclofen-order-sign", "baclofen-order-select", "baclofen-tizanidine-order-sign"]
)
def test_an_old_id_is_not_found(client: TestClient, old: str) -> None:
    for path in (f"/cds-services/{old}", f"/cds-services/{old}/feedback"):
        body = hook_request() if "/feedback" not in path else {"feedback": []}
        response = client.post(path, json=body)
        assert response.status_code == 404
        outcome = response.json()
        assert outcome["resourceType"] == "OperationOutcome"
        assert outcome["issue"][0]["code"] == "not-found"


def test_the_config_file_names_a_hooks_service(tmp_path: Path, knowledge: Knowledge) -> None:
    config = with_ids(write_config(tmp_path), **{"order-sign": "acme.med-safety_sign"})
    assert load_config(config).service_ids == {"order-sign": "acme.med-safety_sign"}
    settings = Settings(db_path=tmp_path / "s.sqlite3", config_path=config)
    with TestClient(create_app(settings, knowledge)) as client:
        found = discovery(client)
        assert [s["id"] for s in found] == [
            "medication-safety-order-select",
            "acme.med-safety_sign",
        ]
        response = client.post("/cds-services/acme.med-safety_sign", json=hook_request())
        assert response.status_code == 200 and response.json()["cards"]
        # the hook's default id is not served beside the configured one
        assert client.post(f"/cds-services/{IDS[1]}", json=hook_request()).status_code == 404
        select = hook_request("order-select")
        assert client.post(f"/cds-services/{IDS[0]}", json=select).status_code == 200


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ('"order-sign" = "a/b"', "'a/b' is not a safe service id"),
        ('"order-sign" = "../admin"', "is not a safe service id"),
        ('"order-sign" = "Sign"', "is not a safe service id"),
        ('"order-sign" = "sign me"', "is not a safe service id"),
        ('"order-sign" = "sign%2F"', "is not a safe service id"),
        ('"order-sign" = ""', "is not a safe service id"),
        ('"order-sign" = "-sign"', "is not a safe service id"),
        ('"order-sign" = "sign--x"', "is not a safe service id"),
        ('"order-sign" = "' + "s" * 65 + '"', "at most 64 characters"),
        ('"order-sign" = 7', "service_ids.order-sign: must be a string"),
        ('"patient-view" = "pv"', "service_ids.patient-view: not a hook this service answers"),
        ('"order-sign" = "x"\n"order-select" = "x"', "'x' is already the order-s"),
        ('"order-sign" = "medication-safety-order-select"', "already the order-select service"),
    ],
)
def test_a_bad_service_id_is_refused(tmp_path: Path, table: str, message: str) -> None:
    config = write_config(tmp_path)
    config.write_text(config.read_text() + "[service_ids]\n" + table + "\n")
    with pytest.raises(ConfigError, match=message) as caught:
        load_config(config)
    assert str(caught.value).startswith(f"{config}: service_ids")
    assert "\n" not in str(caught.value)


def test_service_ids_must_be_a_table(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    config.write_text('service_ids = "medication-safety"\n' + config.read_text())
    with pytest.raises(ConfigError, match=r"service_ids: must be a table \(\[service_ids\]\)"):
        load_config(config)


def test_serve_refuses_a_bad_id_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = with_ids(write_config(tmp_path), **{"order-sign": "bad/id"})
    db = tmp_path / "s.sqlite3"
    assert main(["serve", "--config", str(config), "--db", str(db)]) == 2
    err = capsys.readouterr().err
    assert "service_ids.order-sign: 'bad/id' is not a safe service id" in err
    assert "Traceback" not in err and not db.exists()


def test_the_python_api_takes_the_ids(knowledge: Knowledge) -> None:
    ids = {"order-sign": "sign-here"}
    catalogue = services(knowledge, ids)
    assert list(catalogue) == ["medication-safety-order-select", "sign-here"]
    assert services(knowledge, ids) is catalogue  # built once per knowledge and ids
    request = hook_request(server=False)
    by_hook = evaluate(request, service_ids=ids, knowledge=knowledge)["cards"]
    named = evaluate(request, service="sign-here", service_ids=ids, knowledge=knowledge)["cards"]
    assert by_hook and [c["summary"] for c in named] == [c["summary"] for c in by_hook]
    with pytest.raises(InvalidRequest, match="no CDS service has this id"):
        evaluate(request, service="sign-here", knowledge=knowledge)
    with pytest.raises(InvalidRequest, match="no CDS service has this id"):
        handle_hook(knowledge, IDS[1], request, service_ids=ids)
    with pytest.raises(ConfigError, match="not a safe service id"):
        services(knowledge, {"order-sign": "a b"})
    assert check_service_id("medication-safety-order-sign") == "medication-safety-order-sign"


def test_the_cli_takes_the_ids(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("FHIR_MODULE_CONFIG", raising=False)
    request = tmp_path / "request.json"
    request.write_text(json.dumps(hook_request(server=False)))
    assert main(["evaluate", "--service", IDS[1], str(request)]) == 0
    assert json.loads(capsys.readouterr().out)["cards"]
    assert main(["evaluate", "--service", "baclofen-order-sign", str(request)]) == 2
    assert "no CDS service has this id" in capsys.readouterr().err
    config = with_ids(write_config(tmp_path), **{"order-sign": "sign-here"})
    argv = ["evaluate", "--config", str(config), "--service", "sign-here", str(request)]
    assert main(argv) == 0
    assert json.loads(capsys.readouterr().out)["cards"]
    (tmp_path / "bad").mkdir()
    bad = with_ids(write_config(tmp_path / "bad"), **{"order-sign": "Sign"})
    assert main(["evaluate", "--config", str(bad), str(request)]) == 2
    err = capsys.readouterr().err
    assert "bad config:" in err and "'Sign' is not a safe service id" in err


def test_a_large_formulary_keeps_the_description_short() -> None:
    from fhir_module.hooks._discovery import MAX_NAMED_DRUGS, drug_list

    names = [f"drug{n:04d}" for n in range(500)]
    text = drug_list(names)
    assert text.startswith(", ".join(names[:MAX_NAMED_DRUGS]))
    assert text.endswith(f" and {500 - MAX_NAMED_DRUGS} more")
    assert len(text) < 100
    assert drug_list(["baclofen", "tizanidine"]) == "baclofen, tizanidine"


def test_usage_names_what_the_templates_read() -> None:
    from fhir_module.hooks._discovery import usage

    text = usage({"patient": "Patient/{{context.patientId}}"})
    assert text.startswith("Reads the Patient resources")
    assert "Observation" not in text
    assert "only the draft orders" in usage({})
