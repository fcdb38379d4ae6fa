"""fhir-module package assembles the same formulary as serve and evaluate: --knowledge
repeatable, --no-builtin-knowledge, and FHIR_MODULE_KNOWLEDGE / _NO_BUILTIN_KNOWLEDGE."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from fhir_module.cli import main
from fhir_module.knowledge import load_knowledge

from ._derive import ROOT, derive

TIZANIDINE = ROOT / "modules" / "tizanidine"


def _drugs(package: Path) -> list[str]:
    return sorted(d.id for d in load_knowledge(package, builtin=False).drugs)


def test_every_knowledge_given_is_packaged(tmp_path: Path) -> None:
    zorabine = derive(tmp_path / "zorabine", "zorabine", 2)
    out = tmp_path / "site.tgz"
    args = ["package", "--out", str(out), "--knowledge", str(TIZANIDINE)]
    assert main([*args, "--knowledge", str(zorabine.folder)]) == 0
    assert _drugs(out) == ["baclofen", "tizanidine", "zorabine"]


def test_without_the_builtin_module(tmp_path: Path) -> None:
    out = tmp_path / "tizanidine.tgz"
    args = ["package", "--out", str(out), "--knowledge", str(TIZANIDINE)]
    assert main([*args, "--no-builtin-knowledge"]) == 0
    assert _drugs(out) == ["tizanidine"]


def test_the_environment_names_the_knowledge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zorabine = derive(tmp_path / "zorabine", "zorabine", 2)
    monkeypatch.setenv(
        "FHIR_MODULE_KNOWLEDGE", os.pathsep.join([str(TIZANIDINE), str(zorabine.folder)])
    )
    monkeypatch.setenv("FHIR_MODULE_NO_BUILTIN_KNOWLEDGE", "1")
    out = tmp_path / "env.tgz"
    assert main(["package", "--out", str(out)]) == 0
    assert _drugs(out) == ["tizanidine", "zorabine"]
    # --knowledge replaces the environment's paths
    out2 = tmp_path / "cli.tgz"
    assert main(["package", "--out", str(out2), "--knowledge", str(TIZANIDINE)]) == 0
    assert _drugs(out2) == ["tizanidine"]


def test_no_builtin_and_no_knowledge_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "none.tgz"
    assert main(["package", "--out", str(out), "--no-builtin-knowledge"]) == 2
    err = capsys.readouterr().err
    assert "no knowledge to load" in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
