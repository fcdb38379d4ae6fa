"""Importing the exported Bundle twice changes nothing the second time.

The FHIR server here is a small in-memory one that applies transaction PUTs the way
FHIR's update interaction says: create when absent, update (a new version) only
when the content differs.
"""

from __future__ import annotations

import json
from typing import Any

import responses

from fhir_module.cli import main

SERVER = "https://fhir.example.org/r4"


class MemoryServer:
    def __init__(self) -> None:
        self.store: dict[str, tuple[int, dict[str, Any]]] = {}

    def __call__(self, request: Any) -> tuple[int, dict[str, str], str]:
        bundle = json.loads(request.body)
        answers = []
        for entry in bundle["entry"]:
            assert entry["request"]["method"] == "PUT"
            key = entry["request"]["url"]
            resource = entry["resource"]
            assert key == f"{resource['resourceType']}/{resource['id']}"
            old = self.store.get(key)
            if old is None:
                self.store[key] = (1, resource)
                status = "201 Created"
            elif old[1] == resource:
                status = "200 OK"
            else:
                self.store[key] = (old[0] + 1, resource)
                status = "200 OK"
            answers.append(
                {"response": {"status": status, "location": f"{key}/_history/{self.store[key][0]}"}}
            )
        return (
            200,
            {},
            json.dumps(
                {"resourceType": "Bundle", "type": "transaction-response", "entry": answers}
            ),
        )


@responses.activate
def test_second_import_changes_nothing() -> None:
    server = MemoryServer()
    responses.add_callback(responses.POST, SERVER, callback=server)
    assert main(["push", "--fhir-server", SERVER]) == 0
    first = dict(server.store)
    assert first and all(version == 1 for version, _ in first.values())
    assert main(["push", "--fhir-server", SERVER]) == 0
    assert server.store == first
