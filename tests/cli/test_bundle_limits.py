"""A plain Bundle meets the limits of a hook call on both paths: the library API
(`evaluate_bundle`) refuses an over-limit Bundle with the same TooLarge the CLI prints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fhir_module import evaluate_bundle
from fhir_module.cli import main
from fhir_module.errors import TooLarge
from fhir_module.hooks import Limits

BUNDLE = (
    Path(__file__).resolve().parents[2]
    / "examples"
    / "bundle-paediatric-overdose-asthma.bundle.json"
)


def _cli_error(path: Path, capsys: pytest.CaptureFixture[str]) -> str:
    code = main(["evaluate", str(path)])
    err = capsys.readouterr().err
    assert code == 2, err
    return err.strip().removeprefix("fhir-module: too large: ")


def test_too_many_entries_is_the_same_error_on_both_paths(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = json.loads(BUNDLE.read_text())
    cap = len(bundle["entry"]) - 1
    with pytest.raises(TooLarge) as refused:
        evaluate_bundle(bundle, limits=Limits(max_entries=cap))
    assert refused.value.expression == "Bundle.entry"
    monkeypatch.setenv("FHIR_MODULE_MAX_ENTRIES", str(cap))
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    assert _cli_error(path, capsys) == str(refused.value)


def test_too_much_dose_work_is_refused_by_default(tmp_path: Path) -> None:
    bundle = json.loads(BUNDLE.read_text())
    orders = [
        e["resource"]
        for e in bundle["entry"]
        if e["resource"]["resourceType"] == "MedicationRequest"
    ]
    dosage = orders[0]["dosageInstruction"][0]
    # the service's default cap on dosage instructions in one call, and one more
    orders[0]["dosageInstruction"] = [dosage] * (Limits().max_dosages + 1)
    with pytest.raises(TooLarge, match="MedicationRequest.dosageInstruction"):
        evaluate_bundle(json.dumps(bundle))
    assert "cards" in evaluate_bundle(BUNDLE.read_text())
