"""fhir-module evaluate takes regular files within the request size limit, and turns deep
nesting, huge numbers and more work than the service takes into one line and exit 2."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from fhir_module.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
REQUEST = EXAMPLES / "order-sign-max-daily-dose-oral.request.json"
BUNDLE = EXAMPLES / "bundle-paediatric-overdose-asthma.bundle.json"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """main() in a thread, so that a command that waits for ever fails the test instead."""
    result: list[int] = []
    worker = threading.Thread(target=lambda: result.append(main(["evaluate", *args])), daemon=True)
    worker.start()
    worker.join(20)
    assert result, "fhir-module evaluate did not return"
    out = capsys.readouterr()
    return result[0], out.out, out.err


def one_line(code: int, out: str, err: str, message: str) -> None:
    assert (code, out) == (2, ""), err
    assert err.count("\n") == 1 and message in err, err
    assert "Traceback" not in err


def test_a_fifo_is_refused_without_waiting_for_a_writer(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fifo = tmp_path / "request.json"
    os.mkfifo(fifo)
    one_line(*run(capsys, str(fifo)), "is not a regular file")


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/null"])
def test_a_device_is_refused(capsys: pytest.CaptureFixture[str], device: str) -> None:
    if not Path(device).exists():
        pytest.skip(f"no {device} here")
    one_line(*run(capsys, device), "is not a regular file")


def test_a_directory_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    one_line(*run(capsys, str(tmp_path)), "is not a regular file")


def test_a_symlink_to_a_regular_file_is_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    link = tmp_path / "link.json"
    link.symlink_to(REQUEST)
    code, out, _ = run(capsys, str(link))
    assert code == 0 and json.loads(out)["cards"]


def test_a_file_over_the_request_size_limit_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_MODULE_MAX_BODY_BYTES", "4096")
    big = json.loads(REQUEST.read_text())
    big["extension"] = {"padding": "x" * 5000}
    path = tmp_path / "big.json"
    path.write_text(json.dumps(big))
    one_line(*run(capsys, str(path)), "is larger than 4096 bytes")
    monkeypatch.delenv("FHIR_MODULE_MAX_BODY_BYTES")
    assert run(capsys, str(path))[0] == 0  # the default limit is 5 MiB


@pytest.mark.parametrize(
    "text, message",
    [
        ("[" * 100_000 + "]" * 100_000, "nested deeper than 64 levels"),
        ('{"a":' * 70 + "1" + "}" * 70, "nested deeper than 64 levels"),
        ('{"hook": ' + "9" * 5000 + "}", "a number too long to read"),
        ('{"hook": NaN}', "is not valid JSON"),
        (b"\xff\xfe{}".decode("latin-1"), "is not valid JSON"),
    ],
    ids=["100000 deep", "70 deep", "5000 digits", "NaN", "not UTF-8"],
)
def test_bad_json_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], text: str, message: str
) -> None:
    path = tmp_path / "request.json"
    path.write_bytes(text.encode("latin-1"))
    one_line(*run(capsys, str(path)), message)


def _order_with(document: dict[str, Any], field: str, value: Any) -> None:
    order = document["context"]["draftOrders"]["entry"][0]["resource"]
    dosage = order["dosageInstruction"][0]
    if field == "dose":
        dosage["doseAndRate"][0]["doseQuantity"]["value"] = value
    else:
        dosage["timing"]["repeat"]["frequency"] = value


@pytest.mark.parametrize("field", ["dose", "frequency"])
def test_a_huge_integer_in_an_order_gives_a_card(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], field: str
) -> None:
    document = json.loads(REQUEST.read_text())
    _order_with(document, field, 10**4000)
    path = tmp_path / "request.json"
    path.write_text(json.dumps(document))
    code, out, err = run(capsys, str(path))
    assert (code, err) == (0, "")
    topics = [c["source"]["topic"]["code"] for c in json.loads(out)["cards"]]
    assert "dose-unverifiable" in topics and "max-daily-dose" not in topics


def test_more_dose_work_than_the_service_takes_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FHIR_MODULE_MAX_DOSAGES", "1")
    document = json.loads(REQUEST.read_text())
    order = document["context"]["draftOrders"]["entry"][0]["resource"]
    order["dosageInstruction"] *= 2
    path = tmp_path / "request.json"
    path.write_text(json.dumps(document))
    one_line(*run(capsys, str(path)), "too large: MedicationRequest.dosageInstruction")


def test_a_bundle_meets_the_same_limits(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = json.loads(BUNDLE.read_text())
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    monkeypatch.setenv("FHIR_MODULE_MAX_ENTRIES", str(len(bundle["entry"]) - 1))
    one_line(*run(capsys, str(path)), "too large: Bundle.entry")
    monkeypatch.delenv("FHIR_MODULE_MAX_ENTRIES")
    monkeypatch.setenv("FHIR_MODULE_MAX_DOSAGES", "0")
    one_line(*run(capsys, str(path)), "bad setting")
    monkeypatch.setenv("FHIR_MODULE_MAX_DOSAGES", "1")
    for entry in bundle["entry"]:
        resource = entry["resource"]
        if resource["resourceType"] == "MedicationRequest":
            resource["dosageInstruction"] = resource.get("dosageInstruction", []) * 2
    path.write_text(json.dumps(bundle))
    one_line(*run(capsys, str(path)), "too large: MedicationRequest.dosageInstruction")
