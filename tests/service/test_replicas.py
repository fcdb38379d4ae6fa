"""Two `fhir-module serve` processes on one PostgreSQL database, as two hosts would run them
behind a load balancer: one replay cache, one feedback table, nothing lost to a SIGKILL."""

from __future__ import annotations

import sys
import threading
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from fhir_module.cli import main

from ._jwt import token, write_config
from ._postgres import Cluster, query
from ._requests import hook_request

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
from _harness import Server  # noqa: E402 - the shared harness lives beside the benchmarks

#: what the load balancer in front of both replicas is called: every token names it
PUBLIC = "http://127.0.0.1:9443"
SIGN = "/cds-services/medication-safety-order-sign"


@pytest.fixture
def replicas(
    postgres_cluster: Cluster, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[str, list[Server]]]:
    url = postgres_cluster.new_database()
    config = write_config(tmp_path, public_base_url=PUBLIC)
    monkeypatch.setenv("FHIR_MODULE_AUDIT_KEY", "one key for every replica, 32 b")
    # The second replica runs two worker processes, which rebuild their settings (the URL
    # among them) from the environment.
    servers = [
        Server(url, config=config, log=tmp_path / f"replica-{i}.log", workers=i + 1)
        for i in range(2)
    ]
    # Both start together: the schema is migrated once, whoever is first.
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda s: s.start(), servers))
    try:
        yield url, servers
    finally:
        for server in servers:
            server.stop()


def signed(path: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(PUBLIC + path)}"}


def post(server: Server, path: str, body: Any, headers: dict[str, str]) -> requests.Response:
    return requests.post(server.base + path, json=body, headers=headers, timeout=30)


def test_a_token_used_on_one_replica_is_refused_by_the_other(
    replicas: tuple[str, list[Server]],
) -> None:
    _, (one, two) = replicas
    headers = signed(SIGN)
    assert post(one, SIGN, hook_request(), headers).status_code == 200
    assert post(two, SIGN, hook_request(), headers).status_code == 401
    assert two.log is not None and "authentication failed: replay" in two.log.read_text()
    assert post(two, SIGN, hook_request(), signed(SIGN)).status_code == 200
    for server in (one, two):
        health = requests.get(server.base + "/health", timeout=10)
        assert health.status_code == 200 and health.json()["database"] == "writable"


def test_feedback_posted_to_both_appears_once_in_the_report(
    replicas: tuple[str, list[Server]], capsys: pytest.CaptureFixture[str]
) -> None:
    url, (one, two) = replicas
    cards = post(one, SIGN, hook_request(), signed(SIGN)).json()["cards"]
    card = next(c for c in cards if c.get("suggestions"))
    item = {
        "card": card["uuid"],
        "outcome": "accepted",
        "outcomeTimestamp": "2024-05-01T10:00:00Z",
        "acceptedSuggestions": [{"id": card["suggestions"][0]["uuid"]}],
    }
    path = SIGN + "/feedback"
    for server in (one, two, two):
        assert post(server, path, {"feedback": [item]}, signed(path)).status_code == 200
    assert query(url, "SELECT COUNT(*) FROM feedback") == [(1,)]
    assert main(["feedback-report", "--db", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    rule = card["source"]["topic"]["code"]
    plan = "http://fhir-module.org/fhir/PlanDefinition/baclofen-order-safety|0.1.0"
    (row,) = [line.split() for line in lines if line.startswith(f"{plan}  {rule} ")]
    assert row[3:] == ["1", "0"]  # accepted once, whichever replicas heard it


def test_killing_a_replica_loses_no_acknowledged_feedback(
    replicas: tuple[str, list[Server]],
) -> None:
    url, (one, two) = replicas
    path = SIGN + "/feedback"
    acknowledged: list[str] = []
    lock = threading.Lock()
    killed = threading.Event()

    def send(i: int) -> None:
        card = str(uuid.uuid4())
        item = {"card": card, "outcome": "overridden", "outcomeTimestamp": "2024-05-01T10:00:00Z"}
        server = one if i % 2 else two
        try:
            response = post(server, path, {"feedback": [item]}, signed(path))
        except requests.RequestException:
            return  # in flight at the kill: not acknowledged, so not looked for
        if response.status_code == 200:
            with lock:
                acknowledged.append(card)
        if i == 60:
            one.kill()  # SIGKILL, as a crash or the OOM killer would
            killed.set()

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(send, range(160)))
    assert killed.is_set() and len(acknowledged) > 100
    stored = {card for (card,) in query(url, "SELECT card_uuid FROM feedback")}
    assert set(acknowledged) <= stored
