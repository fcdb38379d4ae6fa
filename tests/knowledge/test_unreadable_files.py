"""A knowledge file too deep or too odd to read is refused with one line naming it, by the
loader, by `validate` and from a package, never with a RecursionError or a traceback; the
Python API refuses such a request the same way."""

from __future__ import annotations

import io
import json
import shutil
import tarfile
from pathlib import Path
from typing import Any

import pytest

from fhir_module import InvalidRequest, KnowledgeError, evaluate, load_knowledge
from fhir_module.cli import main
from fhir_module.knowledge import default_files

PD = "PlanDefinition-baclofen-order-safety.json"
MK = "MedicationKnowledge-baclofen-10mg-tablet.json"
#: JSON nested deeper than Python's parser goes (it stops near 1,000 levels)
TOO_DEEP_TO_PARSE = "[" * 100_000 + "]" * 100_000
#: a number of more digits than Python reads (sys.get_int_max_str_digits(), 4,300)
TOO_LONG_A_NUMBER = '{"resourceType": "MedicationKnowledge", "id": "x", "amount": ' + "9" * 5000


def module(folder: Path) -> Path:
    for path in default_files():
        shutil.copy(path, folder / path.name)
    return folder


def original(name: str) -> dict[str, Any]:
    path = next(p for p in default_files() if p.name == name)
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def nested_actions(depth: int) -> dict[str, Any]:
    """The baclofen PlanDefinition with one more action holding actions `depth` deep."""
    plan = original(PD)
    action: dict[str, Any] = {"title": "deep"}
    for _ in range(depth):
        action = {"title": "deep", "action": [action]}
    plan["action"].append(action)
    return plan


def url_as_a_number() -> dict[str, Any]:
    product = original(MK)
    product["extension"] = [{"url": "http://example.org/where", "valueUrl": 5}]
    return product


CASES = {
    "nested too deep to parse": (MK, TOO_DEEP_TO_PARSE, "nested too deep"),
    "a number too long to read": (MK, TOO_LONG_A_NUMBER + "}", "a number too long to read"),
    "actions nested too deep to check": (
        PD,
        json.dumps(nested_actions(150)),
        "nested too deep for their structure to be checked",
    ),
    "a number for a url": (MK, json.dumps(url_as_a_number()), "a number for a url"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_the_loader_refuses_it_naming_the_file(tmp_path: Path, case: str) -> None:
    name, text, problem = CASES[case]
    folder = module(tmp_path)
    (folder / name).write_text(text, encoding="utf-8")
    with pytest.raises(KnowledgeError, match=problem) as raised:
        load_knowledge(folder, include_default=False)
    assert raised.value.file == name
    assert raised.value.element == "$"


@pytest.mark.parametrize("case", sorted(CASES))
def test_validate_prints_one_line_for_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str
) -> None:
    name, text, problem = CASES[case]
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    assert main(["validate", str(path)]) == 1
    captured = capsys.readouterr()
    assert f"{name}: $: " in captured.out and problem in captured.out
    assert "Traceback" not in captured.out + captured.err


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_package_holding_it_is_refused_naming_the_member(tmp_path: Path, case: str) -> None:
    name, text, problem = CASES[case]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        data = text.encode()
        info = tarfile.TarInfo(f"package/{name}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "site.tgz"
    path.write_bytes(buffer.getvalue())
    with pytest.raises(KnowledgeError, match=problem) as raised:
        load_knowledge(path, include_default=False)
    assert name in raised.value.file


def test_actions_nested_a_little_deeper_than_the_first_look_still_load_their_structure(
    tmp_path: Path,
) -> None:
    # forty levels: beyond the first look's depth, within fhir.resources': judged by it, and
    # the load goes on to the module's own checks of the rule (not its structure)
    folder = module(tmp_path)
    (folder / PD).write_text(json.dumps(nested_actions(40)), encoding="utf-8")
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(folder, include_default=False)
    assert "structure" not in raised.value.problem
    assert "JSON" not in raised.value.problem


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (TOO_DEEP_TO_PARSE, "nested too deep"),
        ('{"hook": ' + "9" * 5000 + "}", "a number too long to read"),
    ],
)
def test_the_api_refuses_such_a_request(text: str, problem: str) -> None:
    with pytest.raises(InvalidRequest, match=problem):
        evaluate(text)
