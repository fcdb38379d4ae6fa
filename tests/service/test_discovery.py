"""GET /cds-services: one service per hook of the knowledge, as CDS Hooks 2.0.1 describes them."""

from __future__ import annotations

import fhir_module.server as service
from fhir_module.facts import prefetch_templates
from fhir_module.hooks import service_for_hook, services
from fhir_module.knowledge import Knowledge

from .conftest import TestClient


def test_discovery_lists_one_service_per_hook(client: TestClient, knowledge: Knowledge) -> None:
    response = client.get("/cds-services")
    assert response.status_code == 200
    found = response.json()["services"]
    assert {s["hook"] for s in found} == set(knowledge.hooks()) == {"order-select", "order-sign"}
    assert {s["id"] for s in found} == {
        "medication-safety-order-select",
        "medication-safety-order-sign",
    }
    for entry in found:
        assert set(entry) == {"hook", "title", "description", "id", "prefetch", "usageRequirements"}
        assert all(
            isinstance(entry[k], str) and entry[k].strip()
            for k in ("hook", "title", "description", "id", "usageRequirements")
        )
        assert entry["hook"] in entry["description"] and "baclofen" in entry["description"]
        assert entry["prefetch"] == prefetch_templates(knowledge)


def test_discovery_allows_browser_clients(client: TestClient) -> None:
    response = client.get("/cds-services", headers={"Origin": "https://ehr.example.org"})
    assert response.headers["access-control-allow-origin"] == "*"


def test_service_for_hook(knowledge: Knowledge) -> None:
    assert service_for_hook(knowledge, "order-sign") == "medication-safety-order-sign"
    assert service_for_hook(knowledge, "patient-view") is None
    assert list(services(knowledge)) == [
        "medication-safety-order-select",
        "medication-safety-order-sign",
    ]


def test_public_names_are_sorted_and_exist() -> None:
    assert service.__all__ == sorted(service.__all__)
    assert all(hasattr(service, name) for name in service.__all__)
