"""Fixtures of the load script's tests: the script as a module, the service ids."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from fhir_module.hooks import services
from fhir_module.knowledge import Knowledge

from ..service._postgres import postgres_cluster  # noqa: F401 - a fixture of the tests here

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "load.py"


@pytest.fixture(scope="session")
def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("load_script", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while being made
    spec.loader.exec_module(module)
    return module


def discovery_ids(knowledge: Knowledge) -> dict[str, str]:
    """{hook: service id} as the service's discovery lists them for this knowledge."""
    return {s["hook"]: s["id"] for s in (svc.discovery() for svc in services(knowledge).values())}
