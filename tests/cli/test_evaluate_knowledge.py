"""fhir-module evaluate --knowledge PATH and --no-builtin-knowledge: other knowledge, or an
edited copy of the module's own, judges the request; bad paths are one line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from fhir_module.cli import main
from fhir_module.knowledge import default_files

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
SECOND_DRUG = ROOT / "tests" / "second_drug" / "knowledge"
#: one request per kind of finding, both hooks, and a plain Bundle
REQUESTS = [
    "order-sign-max-daily-dose-oral.request.json",
    "order-sign-pregnancy.request.json",
    "order-select-counselling-new-start.request.json",
    "bundle-paediatric-overdose-asthma.bundle.json",
]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["evaluate", *args, "--date", "2026-11-26"])
    out = capsys.readouterr()
    return code, out.out, out.err


def without_uuids(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_uuids(v) for k, v in value.items() if k != "uuid"}
    if isinstance(value, list):
        return [without_uuids(v) for v in value]
    return value


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("package") / "baclofen.tgz"
    assert main(["package", "--out", str(out)]) == 0
    return out


@pytest.fixture
def edited_copy(tmp_path: Path) -> Path:
    """The module's own knowledge and profiles, copied, with one card text edited."""
    folder = tmp_path / "site-baclofen"
    folder.mkdir()
    for path in default_files():
        shutil.copy(path, folder / path.name)
    plan = folder / "PlanDefinition-baclofen-order-safety.json"
    text = plan.read_text(encoding="utf-8")
    assert "' exceeds the '" in text  # the title's FHIRPath, and its template beside it
    plan.write_text(text.replace(" exceeds the ", " is above the "), encoding="utf-8")
    return folder


@pytest.mark.parametrize("name", REQUESTS)
def test_the_package_alone_gives_the_built_in_cards(
    name: str, package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = str(EXAMPLES / name)
    code, built_in, err = run(capsys, request)
    assert (code, err) == (0, "")
    code, packaged, err = run(
        capsys, request, "--knowledge", str(package), "--no-builtin-knowledge"
    )
    assert (code, err) == (0, "")
    cards = without_uuids(json.loads(packaged))
    assert cards == without_uuids(json.loads(built_in))
    assert cards["cards"], "each of these requests has a card"


def test_an_edited_copy_replaces_the_built_in_knowledge(
    edited_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = str(EXAMPLES / "order-sign-max-daily-dose-oral.request.json")
    code, out, err = run(capsys, request, "--knowledge", str(edited_copy), "--no-builtin-knowledge")
    assert (code, err) == (0, "")
    summary = json.loads(out)["cards"][0]["summary"]
    assert summary == "Baclofen 160 mg/day is above the 100 mg/day oral maximum"
    # beside the built-in knowledge, the edited PlanDefinition is a second one of the same id:
    # refused, both files named
    code, out, err = run(capsys, request, "--knowledge", str(edited_copy))
    assert (code, out) == (2, "")
    assert err.startswith("fhir-module: knowledge conflict: ") and err.count("\n") == 1
    assert str(edited_copy) in err and "fhir_module/knowledge/data/" in err


def test_knowledge_is_added_to_the_built_in_and_repeatable(
    package: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request = str(EXAMPLES / "order-sign-max-daily-dose-oral.request.json")
    # the package's resources equal the module's: read once, beside a second drug's folder
    code, out, err = run(
        capsys, request, "--knowledge", str(package), "--knowledge", str(SECOND_DRUG)
    )
    assert (code, err) == (0, "")
    assert json.loads(out)["cards"][0]["source"]["topic"]["code"] == "max-daily-dose"


def test_the_environment_names_the_knowledge(
    edited_copy: Path,
    package: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    request = str(EXAMPLES / "order-sign-max-daily-dose-oral.request.json")
    monkeypatch.setenv("FHIR_MODULE_KNOWLEDGE", str(edited_copy))
    monkeypatch.setenv("FHIR_MODULE_NO_BUILTIN_KNOWLEDGE", "1")
    code, out, _ = run(capsys, request)
    assert code == 0 and "is above the" in json.loads(out)["cards"][0]["summary"]
    # --knowledge replaces the environment's paths
    code, out, _ = run(capsys, request, "--knowledge", str(package))
    assert code == 0 and "exceeds the" in json.loads(out)["cards"][0]["summary"]


@pytest.mark.parametrize(
    ("make", "options", "code", "message"),
    [
        (None, ["--knowledge", "{tmp}/missing"], 2, "knowledge: no such file or folder: "),
        (None, ["--knowledge", "{tmp}/missing.tgz", "--no-builtin-knowledge"], 2, "no such file"),
        (None, ["--no-builtin-knowledge"], 2, "no knowledge to load: "),
        ("empty", ["--knowledge", "{tmp}/empty", "--no-builtin-knowledge"], 2, "no FHIR JSON"),
        ("not-fhir", ["--knowledge", "{tmp}/site/x.json"], 1, "broken knowledge: x.json: "),
        ("bad-json", ["--knowledge", "{tmp}/site"], 1, "broken knowledge: x.json: $: "),
        ("bad-tgz", ["--knowledge", "{tmp}/x.tgz"], 1, "broken knowledge: x.tgz: "),
    ],
)
def test_bad_knowledge_is_one_line(
    make: str | None,
    options: list[str],
    code: int,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "site").mkdir()
    if make == "not-fhir":
        (tmp_path / "site" / "x.json").write_text('{"hello": "world"}')
    elif make == "bad-json":
        (tmp_path / "site" / "x.json").write_text("{not json")
    elif make == "bad-tgz":
        (tmp_path / "x.tgz").write_bytes(b"not a gzip file")
    args = [o.replace("{tmp}", str(tmp_path)) for o in options]
    got, out, err = run(capsys, str(EXAMPLES / REQUESTS[0]), *args)
    assert (got, out) == (code, "")
    assert err.startswith(f"fhir-module: {message}") or message in err
    assert err.count("\n") == 1 and "Traceback" not in err


@pytest.mark.parametrize(
    "name",
    ["order-sign-max-daily-dose", "order-sign-pregnancy-caution", "order-select-counselling"],
)
def test_the_tizanidine_module_alone_without_the_built_in_one(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    request = ROOT / "examples" / "tizanidine" / f"{name}.request.json"
    tizanidine = str(ROOT / "modules" / "tizanidine")
    code, out, err = run(capsys, str(request), "--knowledge", tizanidine, "--no-builtin-knowledge")
    assert (code, err) == (0, "")
    saved = json.loads(request.with_name(f"{name}.response.json").read_text())
    assert without_uuids(json.loads(out)) == without_uuids(saved)


def test_a_second_drug_alone_loads_with_the_base_and_judges_no_baclofen(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The profiles and shared terminology load without the built-in module; baclofen does not.
    request = str(EXAMPLES / REQUESTS[0])
    code, out, err = run(capsys, request, "--knowledge", str(SECOND_DRUG), "--no-builtin-knowledge")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"cards": []}
