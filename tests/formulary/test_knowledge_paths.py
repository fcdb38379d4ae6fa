"""How the paths of a formulary are read: a folder with everything below it (hidden files and
folders, npm manifests and ImplementationGuides left out), each file once however often it
is named, and a copy of a built-in resource beside the built-in knowledge refused with the
way to load the copy instead."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile
from pathlib import Path

import pytest

from fhir_module import KnowledgeConflict
from fhir_module.cli import main
from fhir_module.knowledge import default_files, load_knowledge

from ._derive import EXAMPLES, ROOT, baclofen_files, derive

TIZANIDINE = ROOT / "modules" / "tizanidine"
BUILTIN = {p.name: p for p in default_files()}
REQUEST = EXAMPLES / "order-sign-max-daily-dose-oral.request.json"
HINT = "--no-builtin-knowledge (FHIR_MODULE_NO_BUILTIN_KNOWLEDGE=1, load_knowledge(builtin=False))"


def _ids(*paths: Path, builtin: bool = True) -> list[str]:
    return [d.id for d in load_knowledge(*paths, builtin=builtin).drugs]


# ----- each file once


def test_one_folder_named_twice_is_loaded_once(tmp_path: Path) -> None:
    assert _ids(TIZANIDINE, TIZANIDINE) == ["baclofen", "tizanidine"]


def test_a_folder_and_one_of_its_files(tmp_path: Path) -> None:
    product = TIZANIDINE / "MedicationKnowledge-tizanidine-4mg-tablet.json"
    assert _ids(TIZANIDINE, product) == ["baclofen", "tizanidine"]
    assert _ids(product, TIZANIDINE) == ["baclofen", "tizanidine"]


def test_a_folder_and_a_symbolic_link_to_it(tmp_path: Path) -> None:
    link = tmp_path / "current"
    link.symlink_to(TIZANIDINE, target_is_directory=True)
    assert _ids(TIZANIDINE, link) == ["baclofen", "tizanidine"]
    (tmp_path / "single").mkdir()
    one = tmp_path / "single" / "tizanidine.json"
    one.symlink_to(TIZANIDINE / "PlanDefinition-tizanidine-order-safety.json")
    assert _ids(TIZANIDINE, one) == ["baclofen", "tizanidine"]


def test_the_built_in_folder_named_beside_the_built_in_knowledge() -> None:
    data = next(iter(BUILTIN.values())).parent
    assert _ids(data) == ["baclofen"]


def test_the_cli_with_one_folder_twice(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--knowledge", str(TIZANIDINE), "--knowledge", str(TIZANIDINE)]
    assert main(["evaluate", str(REQUEST), *args]) == 0
    assert json.loads(capsys.readouterr().out)["cards"]


def test_one_package_named_twice(tmp_path: Path) -> None:
    package = tmp_path / "tizanidine.tgz"
    assert main(["package", "--out", str(package), "--knowledge", str(TIZANIDINE)]) == 0
    assert _ids(package, package, builtin=False) == ["baclofen", "tizanidine"]


# ----- folders read with everything below them


def test_module_subfolders_beside_json_are_read(tmp_path: Path) -> None:
    formulary = tmp_path / "formulary"
    shutil.copytree(TIZANIDINE, formulary / "tizanidine")
    derive(formulary / "site" / "zoraaine", "zoraaine", 1)
    # a shared resource at the top: the site's own override reasons
    reasons = json.loads(BUILTIN["ValueSet-override-reasons.json"].read_text(encoding="utf-8"))
    reasons.update(id="site-override-reasons", url="http://site.example.org/fhir/ValueSet/r")
    (formulary / "ValueSet-site-override-reasons.json").write_text(json.dumps(reasons), "utf-8")
    knowledge = load_knowledge(formulary)
    assert [d.id for d in knowledge.drugs] == ["baclofen", "zoraaine", "tizanidine"]
    assert "http://site.example.org/fhir/ValueSet/r" in knowledge.by_url


def test_hidden_folders_and_npm_manifests_are_not_knowledge(tmp_path: Path) -> None:
    folder = tmp_path / "tizanidine"
    shutil.copytree(TIZANIDINE, folder)
    (folder / ".git").mkdir()
    (folder / ".git" / "config.json").write_text("not json", "utf-8")
    (folder / ".backup.json").write_text("{}", "utf-8")
    manifest = {"name": "site.formulary", "version": "1.0.0", "fhirVersions": ["4.0.1"]}
    (folder / "package.json").write_text(json.dumps(manifest), "utf-8")
    assert _ids(folder) == ["baclofen", "tizanidine"]


def test_a_symbolic_link_loop_is_read_once(tmp_path: Path) -> None:
    folder = tmp_path / "tizanidine"
    shutil.copytree(TIZANIDINE, folder)
    (folder / "again").symlink_to(folder, target_is_directory=True)
    assert _ids(folder) == ["baclofen", "tizanidine"]


def test_an_unpacked_package_folder_loads_as_its_package(tmp_path: Path) -> None:
    package = tmp_path / "tizanidine.tgz"
    assert main(["package", "--out", str(package), "--knowledge", str(TIZANIDINE)]) == 0
    with tarfile.open(package, "r:gz") as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    folder = tmp_path / "unpacked"
    assert (folder / "package" / "package.json").is_file()
    assert (folder / "package" / ".index.json").is_file()
    assert list((folder / "package").glob("ImplementationGuide-*.json"))
    assert _ids(folder, builtin=False) == _ids(package, builtin=False)


def test_the_cli_reads_a_folder_of_module_folders(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.copytree(TIZANIDINE, tmp_path / "formulary" / "tizanidine")
    code = main(["evaluate", str(REQUEST), "--knowledge", str(tmp_path / "formulary")])
    assert code == 0 and json.loads(capsys.readouterr().out)["cards"]
    # a folder with nothing but hidden files is still an empty folder
    (tmp_path / "empty" / ".git").mkdir(parents=True)
    (tmp_path / "empty" / ".git" / "x.json").write_text("{}", "utf-8")
    assert main(["evaluate", str(REQUEST), "--knowledge", str(tmp_path / "empty")]) == 2
    err = capsys.readouterr().err
    assert "no FHIR JSON resources" in err and err.count("\n") == 1


# ----- a copy of a built-in resource beside the built-in knowledge


def _edited_baclofen(folder: Path) -> Path:
    """A site's edited copy of the baclofen module: every file of it, a synonym added."""
    folder.mkdir(parents=True)
    for name, resource in baclofen_files().items():
        if name == "MedicationKnowledge-baclofen.json":
            resource["synonym"] = [*resource.get("synonym", []), "Baclosan"]
        (folder / name).write_text(json.dumps(resource, indent=2), "utf-8")
    return folder / "MedicationKnowledge-baclofen.json"


def test_an_edited_copy_of_baclofen_beside_the_built_in(tmp_path: Path) -> None:
    _edited_baclofen(tmp_path / "site")
    with pytest.raises(KnowledgeConflict) as caught:
        load_knowledge(tmp_path / "site")
    exc = caught.value
    name = Path(exc.file).name
    assert (exc.file, exc.other) == (str(tmp_path / "site" / name), str(BUILTIN[name]))
    assert "is defined twice, once in the built-in knowledge" in str(exc)
    assert HINT in str(exc)
    # ... which is what the message says to do
    knowledge = load_knowledge(tmp_path / "site", builtin=False)
    assert "baclosan" in knowledge.drugs[0].names


def test_the_cli_says_how_to_load_the_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edited = _edited_baclofen(tmp_path / "site")
    args = [str(REQUEST), "--knowledge", str(tmp_path / "site")]
    assert main(["evaluate", *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("fhir-module: knowledge conflict: ") and err.count("\n") == 1
    assert str(edited.parent) in err and str(BUILTIN[edited.name].parent) in err and HINT in err
    assert main(["evaluate", *args, "--no-builtin-knowledge"]) == 0


def test_a_package_an_older_version_wrote(tmp_path: Path) -> None:
    package = tmp_path / "site.tgz"
    assert main(["package", "--out", str(package)]) == 0
    # as an older version wrote it: a rule CodeSystem with another description
    old = tmp_path / "old.tgz"
    with tarfile.open(package, "r:gz") as src, tarfile.open(old, "w:gz") as dst:
        for member in src.getmembers():
            handle = src.extractfile(member)
            data = handle.read() if handle else b""
            if member.name == "package/CodeSystem-cds-rules.json":
                resource = json.loads(data)
                resource["description"] = "The rules of the baclofen module."
                data = json.dumps(resource).encode()
                member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    with pytest.raises(KnowledgeConflict) as caught:
        load_knowledge(old)
    exc = caught.value
    assert exc.file == f"{old}:CodeSystem-cds-rules.json"
    assert exc.other == str(BUILTIN["CodeSystem-cds-rules.json"])
    assert "CodeSystem/cds-rules is defined twice, once in the built-in knowledge" in str(exc)
    assert HINT in str(exc)
    assert _ids(old, builtin=False) == ["baclofen"]


def test_two_site_files_of_one_resource_get_no_built_in_hint(tmp_path: Path) -> None:
    derived = derive(tmp_path / "zoraaine", "zoraaine", 2)
    plan = derived.file("PlanDefinition", "-order-safety")
    (tmp_path / "copy").mkdir()
    again = tmp_path / "copy" / plan.name
    resource = json.loads(plan.read_text(encoding="utf-8"))
    resource["url"] += "-copy"
    again.write_text(json.dumps(resource), "utf-8")
    with pytest.raises(KnowledgeConflict) as caught:
        load_knowledge(derived.folder, tmp_path / "copy")
    assert "is defined twice" in str(caught.value)
    assert "built-in" not in str(caught.value) and os.fspath(again) in str(caught.value)
