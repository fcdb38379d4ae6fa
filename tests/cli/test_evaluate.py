"""fhir-module evaluate: a response on stdout (exit 0) or one line on stderr (exit 2)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fhir_module.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
THIRD_PARTY = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "third-party"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["evaluate", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_a_request(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, str(EXAMPLES / "order-sign-max-daily-dose-oral.request.json"))
    assert (code, err) == (0, "")
    topics = [c["source"]["topic"]["code"] for c in json.loads(out)["cards"]]
    assert topics[0] == "max-daily-dose"


def test_a_plain_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(
        capsys,
        str(EXAMPLES / "bundle-paediatric-overdose-asthma.bundle.json"),
        "--date",
        "2026-11-26",
    )
    assert code == 0
    assert "paediatric-daily-dose" in {
        c["source"]["topic"]["code"] for c in json.loads(out)["cards"]
    }


def test_service_chosen_explicitly(capsys: pytest.CaptureFixture[str]) -> None:
    path = str(EXAMPLES / "order-sign-max-daily-dose-oral.request.json")
    code, _, err = run(capsys, path, "--service", "medication-safety-order-select")
    assert code == 2 and err.count("\n") == 1 and "invalid request" in err
    code, _, err = run(capsys, path, "--service", "no-such-service")
    assert code == 2 and err.count("\n") == 1


@pytest.mark.skipif(not THIRD_PARTY.is_dir(), reason="shared fixtures not beside the checkout")
@pytest.mark.parametrize("name", ["order_sign_hook_request.json", "order_select_hook_request.json"])
def test_third_party_requests(capsys: pytest.CaptureFixture[str], name: str) -> None:
    code, out, _ = run(capsys, str(THIRD_PARTY / name))
    assert code == 0 and json.loads(out) == {"cards": []}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "is not valid JSON"),
        ("[]", "invalid request"),
        ('{"hook": "order-sign", "hookInstance": 5, "context": {}}', "invalid request"),
        ('{"resourceType": "Bundle", "entry": {}}', "invalid request"),
    ],
)
def test_bad_input_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "request.json"
    path.write_text(content)
    code, out, err = run(capsys, str(path))
    assert (code, out) == (2, "")
    assert err.count("\n") == 1 and message in err and "Traceback" not in err


def test_missing_file_and_bad_date(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, str(tmp_path / "nope.json"))
    assert code == 2 and err.startswith("fhir-module: cannot read")
    with pytest.raises(SystemExit) as exit_:
        main(["evaluate", str(tmp_path / "x.json"), "--date", "26/11/2026"])
    assert exit_.value.code == 2


def test_data_that_cannot_be_had_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = json.loads((EXAMPLES / "order-sign-pregnancy.request.json").read_text())
    del request["prefetch"]["observations"]
    del request["fhirServer"]
    path = tmp_path / "request.json"
    path.write_text(json.dumps(request))
    code, out, err = run(capsys, str(path))
    assert (code, out) == (2, "")
    assert err.startswith("fhir-module: data unavailable") and "pat-1" not in err
