"""export, push (against a mocked FHIR server) and validate, through the command line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
import responses

from fhir_module.cli import main
from fhir_module.knowledge import default_files

SERVER = "https://fhir.example.org/r4"


def export(tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "bundle.json"
    assert main(["export", "--out", str(out)]) == 0
    return json.loads(out.read_text())


def test_export_is_a_transaction_of_puts_of_everything(tmp_path: Path) -> None:
    bundle = export(tmp_path)
    assert bundle["resourceType"] == "Bundle" and bundle["type"] == "transaction"
    keys = [e["request"]["url"] for e in bundle["entry"]]
    assert len(keys) == len(set(keys)) == len(default_files())
    for entry in bundle["entry"]:
        res = entry["resource"]
        assert entry["request"] == {"method": "PUT", "url": f"{res['resourceType']}/{res['id']}"}
        assert entry["fullUrl"] == f"http://fhir-module.org/fhir/{res['resourceType']}/{res['id']}"
    types = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert types == {
        "StructureDefinition",
        "CodeSystem",
        "ValueSet",
        "MedicationKnowledge",
        "Library",
        "PlanDefinition",
    }


def test_export_is_deterministic(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert export(tmp_path) == export(tmp_path)
    assert main(["export"]) == 0
    assert json.loads(capsys.readouterr().out) == export(tmp_path)


def transaction_response(request: Any) -> tuple[int, dict[str, str], str]:
    bundle = json.loads(request.body)
    entries = [
        {
            "response": {
                "status": "201 Created" if i % 2 else "200 OK",
                "location": f"{e['request']['url']}/_history/1",
            }
        }
        for i, e in enumerate(bundle["entry"])
    ]
    return (
        200,
        {},
        json.dumps({"resourceType": "Bundle", "type": "transaction-response", "entry": entries}),
    )


@responses.activate
def test_push_success_sends_the_token(capsys: pytest.CaptureFixture[str]) -> None:
    responses.add_callback(responses.POST, SERVER, callback=transaction_response)
    assert main(["push", "--fhir-server", SERVER, "--token", "s3cret-token"]) == 0
    sent = responses.calls[0].request
    assert sent.headers["Authorization"] == "Bearer s3cret-token"
    assert sent.headers["Content-Type"] == "application/fhir+json"
    assert json.loads(sent.body)["type"] == "transaction"
    out = capsys.readouterr()
    assert "updated: CodeSystem/" in out.out and "created: " in out.out
    assert "s3cret-token" not in out.out + out.err


@responses.activate
def test_push_without_token_sends_no_authorization() -> None:
    responses.add_callback(responses.POST, SERVER, callback=transaction_response)
    assert main(["push", "--fhir-server", SERVER]) == 0
    assert "Authorization" not in responses.calls[0].request.headers


@responses.activate
def test_push_reports_the_operation_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": "processing",
                "diagnostics": "Unknown profile",
                "expression": ["Bundle.entry[3].resource"],
            },
            {"severity": "warning", "code": "informational", "details": {"text": "slow"}},
        ],
    }
    responses.add(responses.POST, SERVER, json=outcome, status=422)
    assert main(["push", "--fhir-server", SERVER, "--token", "tok"]) == 1
    out = capsys.readouterr()
    assert "answered 422" in out.err
    assert "error processing: Unknown profile (at Bundle.entry[3].resource)" in out.out
    assert "warning informational: slow" in out.out


@responses.activate
def test_push_time_out_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    responses.add(responses.POST, SERVER, body=requests.Timeout())
    assert main(["push", "--fhir-server", SERVER, "--timeout", "2"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["fhir-module: the FHIR server did not answer within 2 s"]


@responses.activate
def test_push_connection_error_is_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    responses.add(responses.POST, SERVER, body=requests.ConnectionError("refused"))
    assert main(["push", "--fhir-server", SERVER]) == 1
    assert capsys.readouterr().err.strip() == (
        "fhir-module: cannot reach the FHIR server (ConnectionError)"
    )


def test_push_refuses_a_non_http_url(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["push", "--fhir-server", "ftp://x"]) == 2
    assert "http" in capsys.readouterr().err


def test_validate_the_module(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.strip() == f"{len(default_files())} resource(s) valid"


def test_validate_the_exported_bundle(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    export(tmp_path)
    capsys.readouterr()
    assert main(["validate", str(tmp_path / "bundle.json")]) == 0


def broken(tmp_path: Path, name: str, change: Any) -> Path:
    source = next(p for p in default_files() if p.name == name)
    resource = json.loads(source.read_text())
    change(resource)
    path = tmp_path / name
    path.write_text(json.dumps(resource))
    return path


@pytest.mark.parametrize(
    ("name", "change", "problem"),
    [
        (
            "MedicationKnowledge-baclofen.json",
            lambda r: r.update(status=5),
            "MedicationKnowledge-baclofen.json: status:",
        ),
        (
            "MedicationKnowledge-baclofen.json",
            lambda r: r.pop("intendedRoute"),
            "MedicationKnowledge.intendedRoute: at least 1 required, found 0",
        ),
        (
            "MedicationKnowledge-baclofen.json",
            lambda r: r.update(status="inactive"),
            "status: must be 'active'",
        ),
        (
            "MedicationKnowledge-baclofen.json",
            lambda r: r["administrationGuidelines"][1]["patientCharacteristics"][0]["extension"][0][
                "valueRange"
            ]["low"].update(code="mo"),
            "age-1: Ages are in UCUM years",
        ),
        (
            "MedicationKnowledge-baclofen.json",
            lambda r: r["extension"][0]["extension"].pop(0),
            "at least 1 required",
        ),
        (
            "PlanDefinition-baclofen-order-safety.json",
            lambda r: r.update(type={"text": "rule"}),
            ": type: must match",
        ),
        (
            "PlanDefinition-baclofen-order-safety.json",
            lambda r: r["action"][0]["condition"][0]["expression"].update(language="text/cql"),
            "must be 'text/fhirpath'",
        ),
        (
            "PlanDefinition-baclofen-order-safety.json",
            lambda r: r["action"][3].pop("selectionBehavior"),
            "eca-3",
        ),
    ],
)
def test_validate_broken_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, change: Any, problem: str
) -> None:
    path = broken(tmp_path, name, change)
    assert main(["validate", str(path)]) == 1
    out = capsys.readouterr().out
    assert problem in out, out
    assert out.strip().splitlines()[-1].endswith("in 1 resource(s)")


def test_validate_not_json_and_missing_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("{")
    assert main(["validate", str(bad)]) == 1
    assert "x.json: $: is not valid JSON" in capsys.readouterr().out
    assert main(["validate", str(tmp_path / "nope.json")]) == 2
    assert capsys.readouterr().err.startswith("fhir-module: no such file")
