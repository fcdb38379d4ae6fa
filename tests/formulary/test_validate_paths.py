"""`fhir-module validate PATH...` reads what `--knowledge` reads: folders with everything below
them (hidden entries, npm manifests and ImplementationGuides left out) and FHIR packages
(.tgz); a missing path, or a folder with nothing to check, is one line and exit 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from fhir_module.cli import main

from ._derive import ATC, derive

ROOT = Path(__file__).resolve().parents[2]
TIZANIDINE = ROOT / "modules" / "tizanidine"
MODULE_FILES = len(list(TIZANIDINE.glob("*.json")))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fhir_module", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )


def test_validate_a_folder_of_module_folders(tmp_path: Path) -> None:
    formulary = tmp_path / "formulary"
    shutil.copytree(TIZANIDINE, formulary / "site" / "tizanidine")
    # not knowledge, as --knowledge leaves them out: hidden files and folders, npm manifests
    (formulary / ".git").mkdir()
    (formulary / ".git" / "HEAD.json").write_text("{", "utf-8")
    (formulary / "site" / ".index.json").write_text("{", "utf-8")
    (formulary / "package.json").write_text('{"name": "site.formulary"}', "utf-8")
    done = _cli("validate", str(formulary))
    assert (done.returncode, done.stderr) == (0, ""), done.stderr
    assert done.stdout.strip() == f"{MODULE_FILES} resource(s) valid"


def test_validate_an_unpacked_package_leaves_out_its_description(tmp_path: Path) -> None:
    package = tmp_path / "site.tgz"
    assert main(["package", "--out", str(package), "--knowledge", str(TIZANIDINE)]) == 0
    with tarfile.open(package, "r:gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    folder = tmp_path / "unpacked" / "package"
    assert list(folder.glob("ImplementationGuide-*.json"))
    packaged = len(list(folder.glob("*.json"))) - 3  # the manifest, the index, the IG
    for path in (folder, package):  # the folder, and the package file itself
        done = _cli("validate", str(path))
        assert done.returncode == 0, (path, done.stdout, done.stderr)
        assert done.stdout.strip() == f"{packaged} resource(s) valid"


def test_a_broken_file_in_a_subfolder_is_named_by_its_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "formulary" / "tizanidine"
    shutil.copytree(TIZANIDINE, folder)
    path = folder / "MedicationKnowledge-tizanidine.json"
    resource = json.loads(path.read_text("utf-8"))
    resource["status"] = 5
    path.write_text(json.dumps(resource), "utf-8")
    (folder / "notes").mkdir()
    (folder / "notes" / "draft.json").write_text("{", "utf-8")
    assert main(["validate", str(tmp_path / "formulary")]) == 1
    out = capsys.readouterr().out
    assert f"{path}: status:" in out, out
    assert "draft.json: $: is not valid JSON" in out, out
    assert out.strip().splitlines()[-1] == f"2 problem(s) in {MODULE_FILES} resource(s)"


def test_a_folder_that_conflicts_with_the_built_in_module_is_one_line(tmp_path: Path) -> None:
    # zoraaine's ATC is-a filter M03BX holds baclofen's M03BX01
    zoraaine = derive(tmp_path / "site" / "zoraaine", "zoraaine", 40)
    path = zoraaine.file("ValueSet", "-medications")

    def change(vs: dict[str, Any]) -> None:
        is_a = {"property": "concept", "op": "is-a", "value": "M03BX"}
        vs["compose"]["include"].append({"system": ATC, "filter": [is_a]})

    zoraaine.edit(path, change)
    done = _cli("validate", str(tmp_path / "site"))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(f"fhir-module: knowledge conflict: {path}: ")
    assert "the ATC is-a filter M03BX of zoraaine covers the code M03BX01 of baclofen" in (
        done.stderr
    )


def test_a_package_that_cannot_be_read_is_a_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    package = tmp_path / "site.tgz"
    package.write_bytes(b"not a tar file")
    assert main(["validate", str(package)]) == 1
    assert "site.tgz: $: is not a readable FHIR package" in capsys.readouterr().out


@pytest.mark.parametrize("kind", ["file", "folder"])
def test_a_missing_path_or_an_empty_folder_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    missing = tmp_path / ("nope.json" if kind == "file" else "nope")
    assert main(["validate", str(TIZANIDINE), str(missing)]) == 2
    err = capsys.readouterr().err
    assert err == f"fhir-module: no such file or folder: {missing}\n"
    empty = tmp_path / "empty"  # nothing but hidden files
    (empty / ".git").mkdir(parents=True)
    (empty / ".git" / "x.json").write_text("{}", "utf-8")
    assert main(["validate", str(empty)]) == 2
    err = capsys.readouterr().err
    assert err == f"fhir-module: no FHIR JSON resources (*.json) in or below the folder {empty}\n"
