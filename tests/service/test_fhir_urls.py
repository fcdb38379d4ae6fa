"""The fhirServer allowlist and the FHIR client read a URL one way: as it will be sent.

A fhirServer the allowlist reads as one host and the HTTP library as another would take
the fhirAuthorization token to a host nobody allowed; a `next` link or a redirect could do
the same after the first read. Each is refused before anything is sent.
"""

from __future__ import annotations

from typing import Any

import pytest
import responses

from fhir_module.hooks._urls import UrlError, parse_base_url
from fhir_module.knowledge import Knowledge
from fhir_module.server import Settings, create_app

from ._jwt import write_config
from ._requests import PATIENT, SERVER, TOKEN, full_prefetch, hook_request, searchset
from .conftest import TestClient

SIGN = "/cds-services/medication-safety-order-sign"

#: fhirServer values an allowlist of https://ehr.example.org/fhir (or of loopback, in open
#: mode) must never let through, whatever a URL parser makes of them
SPOOFED = [
    "https://other.example:8443\\@ehr.example.org/fhir",  # urllib3 sends it to other.example
    "https://other.example\\@ehr.example.org/fhir",
    "https://ehr.example.org\\.other.example/fhir",
    "https://user:pw@ehr.example.org/fhir",
    "https://ehr.example.org@other.example/fhir",
    "https://ehr.example.org/fhir?x=1",
    "https://ehr.example.org/fhir#top",
    "https://ehr.example.org /fhir",
    "https://ehr.example.org/fhir\t",
    "https://ehr.example.org\n.other.example/fhir",
    "https://ehr.example.org/fhir\x00",
    "https://ehr.example.org/fhir/../admin",
    "https://ehr.example.org/fhir/%2e%2e/admin",
    "https://ehr.example.org/fhir%2f..%2fadmin",
    "https://ehr.example.org/fhir/..;/admin",  # Tomcat drops ';...' and then climbs out
    "https://ehr.example.org/fhir/..;x=1/admin",
    "https://ehr.example.org/fhir/.;/admin",
    "https://ehr.example.org/fhir/%2e%2e;/admin",
    "https://ehr.example.org/fhir/.%2E;jsessionid=1/admin",
    "https://ehr.example.org/fhir/..%3b/admin",
    "https://ehr.exämple.org/fhir",
    "https://ehr.example.org:99999/fhir",
    "https://ehr.example.org:x/fhir",
    "ftp://ehr.example.org/fhir",
    "https:///fhir",
]
LOOPBACK_SPOOFED = [
    "http://127.0.0.1:8081\\@other.example/fhir",
    "http://other.example\\@127.0.0.1/fhir",
    "http://127.1/fhir",  # resolvers read it as 127.0.0.1; we read only the dotted quad
    "http://2130706433/fhir",
    "http://localhost@other.example/fhir",
    "http://[::1%25eth0]:8081/fhir",  # an IPv6 zone id
    "http://[::1]x:8081/fhir",
]


def _fetching(server: str) -> dict[str, Any]:
    request = hook_request(prefetch={})
    request["fhirServer"] = server
    return request


@pytest.mark.parametrize("server", SPOOFED)
def test_an_ambiguous_fhir_server_is_refused_and_never_contacted(
    client: TestClient, server: str
) -> None:
    with responses.RequestsMock() as rsps:
        # nothing registered: any request at all would be recorded
        response = client.post(SIGN, json=_fetching(server))
        assert not rsps.calls
    assert response.status_code == 400
    issue = response.json()["issue"][0]
    assert issue["expression"] == ["fhirServer"]
    assert server not in issue["diagnostics"] and TOKEN not in response.text


@pytest.mark.parametrize("server", SPOOFED + LOOPBACK_SPOOFED)
def test_the_allowlist_says_no_to_every_ambiguous_spelling(server: str) -> None:
    from fhir_module.server import TrustedClient

    listed = TrustedClient(
        "https://ehr.example.org",
        frozenset({parse_base_url(SERVER), parse_base_url("http://127.0.0.1:8081/fhir")}),
    )
    assert not listed.allows_fhir_server(server)
    with pytest.raises(UrlError):
        parse_base_url(server)


@pytest.mark.parametrize("server", LOOPBACK_SPOOFED)
def test_open_mode_refuses_the_same_spellings(
    open_settings: Settings, knowledge: Knowledge, server: str
) -> None:
    with responses.RequestsMock() as rsps, TestClient(create_app(open_settings, knowledge)) as c:
        response = c.post(SIGN, json=_fetching(server))
        assert not rsps.calls
    assert response.status_code == 400


@pytest.mark.parametrize(
    "url, sent",
    [
        ("HTTPS://EHR.Example.ORG:443/fhir/", "https://ehr.example.org/fhir"),
        ("http://[::1]:8081/fhir", "http://[::1]:8081/fhir"),
        ("http://localhost", "http://localhost"),
        ("https://ehr.example.org/r4/fhir%20base", "https://ehr.example.org/r4/fhir%20base"),
    ],
)
def test_a_plain_base_url_is_read_in_one_spelling(url: str, sent: str) -> None:
    assert str(parse_base_url(url)) == sent


@pytest.mark.parametrize(
    "relative",
    ["..;/admin", "Patient/..;", "Patient/.;x/..;y", "Patient/%2e%2e;/x", "Medication/..%3B"],
)
def test_a_read_url_with_a_dot_segment_before_parameters_is_refused(relative: str) -> None:
    with pytest.raises(UrlError):
        parse_base_url(SERVER).join(relative)


@pytest.mark.parametrize(
    "url",
    [
        "https://ehr.example.org/fhir;v=4",
        "https://ehr.example.org/fhir/..x;",
        "https://ehr.example.org/fhir/a;..",
        "https://ehr.example.org/fhir/...;",
    ],
)
def test_parameters_after_other_segments_are_kept(url: str) -> None:
    assert str(parse_base_url(url)) == url


def _served(rsps: responses.RequestsMock, base: str = SERVER) -> None:
    rsps.get(f"{base}/Patient/pat-4711", json=PATIENT)
    for kind in ("Observation", "Condition", "MedicationRequest"):
        rsps.get(f"{base}/{kind}", json=searchset())


@pytest.mark.parametrize(
    "next_url",
    [
        "https://ehr.example.org/fhirx/Observation?page=2",  # no path boundary
        "https://ehr.example.org/Observation?page=2",
        "https://ehr.example.org:8443/fhir/Observation?page=2",
        "http://ehr.example.org/fhir/Observation?page=2",
        "https://other.example\\@ehr.example.org/fhir/Observation",
        "https://x@ehr.example.org/fhir/Observation",
        "https://ehr.example.org/fhir/../admin/Observation",
        "https://ehr.example.org/fhir/..;/admin/Observation",
        "https://ehr.example.org/fhir/%2E%2E;/admin/Observation",
        "https://ehr.example.org/fhir/Observation?page=2#x",
        "/fhir/Observation?page=2",
    ],
)
def test_a_next_link_outside_the_base_url_is_never_followed(
    client: TestClient, next_url: str
) -> None:
    prefetch = full_prefetch()
    prefetch["observations"] = searchset(next_url=next_url)
    with responses.RequestsMock() as rsps:
        response = client.post(SIGN, json=hook_request(prefetch=prefetch))
        assert not rsps.calls
    assert response.status_code == 412
    assert response.json()["issue"][0]["expression"] == ["prefetch.observations"]


def test_a_redirect_under_the_base_url_is_followed_with_the_token(client: TestClient) -> None:
    prefetch = full_prefetch()
    del prefetch["patient"]
    moved = f"{SERVER}/Patient/pat-4711/_history/2"
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Patient/pat-4711", status=302, headers={"Location": moved})
        rsps.get(moved, json=PATIENT)
        response = client.post(SIGN, json=hook_request(prefetch=prefetch))
        assert [c.request.headers["Authorization"] for c in rsps.calls] == [f"Bearer {TOKEN}"] * 2
    assert response.status_code == 200


@pytest.mark.parametrize(
    "location",
    [
        "https://other.example/fhir/Patient/pat-4711",
        "https://ehr.example.org/fhirx/Patient/pat-4711",
        "/elsewhere/Patient/pat-4711",
        "../../Patient/pat-4711",
        "https://other.example\\@ehr.example.org/fhir/Patient/pat-4711",
        "http://ehr.example.org/fhir/Patient/pat-4711",
        "https://ehr.example.org/fhir/..;/admin/Patient/pat-4711",
        "https://ehr.example.org/fhir/.;/..;/Patient/pat-4711",
        "https://ehr.example.org/fhir/%2e%2e;a/Patient/pat-4711",
    ],
)
def test_a_redirect_outside_the_base_url_is_not_followed(client: TestClient, location: str) -> None:
    prefetch = full_prefetch()
    del prefetch["patient"]
    with responses.RequestsMock() as rsps:
        rsps.get(f"{SERVER}/Patient/pat-4711", status=307, headers={"Location": location})
        response = client.post(SIGN, json=hook_request(prefetch=prefetch))
        assert len(rsps.calls) == 1  # the first read only; the target never sees the token
    assert response.status_code == 412
    issue = response.json()["issue"][0]
    assert issue["code"] == "security" and issue["expression"] == ["prefetch.patient"]


def test_redirects_are_followed_a_few_times_only(client: TestClient) -> None:
    prefetch = full_prefetch()
    del prefetch["patient"]
    here = f"{SERVER}/Patient/pat-4711"
    with responses.RequestsMock() as rsps:
        rsps.get(here, status=301, headers={"Location": here})
        response = client.post(SIGN, json=hook_request(prefetch=prefetch))
        assert len(rsps.calls) == 4
    assert response.status_code == 412
    assert "redirected more than" in response.json()["issue"][0]["diagnostics"]


def test_a_listed_server_with_a_path_is_read_under_that_path_only(
    tmp_path: Any, knowledge: Knowledge
) -> None:
    base = "https://ehr.example.org/tenant-a/fhir"
    settings = Settings(
        db_path=tmp_path / "b.sqlite3", config_path=write_config(tmp_path, fhir_servers=(base,))
    )
    with responses.RequestsMock() as rsps, TestClient(create_app(settings, knowledge)) as c:
        _served(rsps, base)
        assert c.post(SIGN, json=_fetching(base)).status_code == 200
        assert all(str(call.request.url).startswith(base + "/") for call in rsps.calls)
        # a longer path is another server: never read
        assert c.post(SIGN, json=_fetching(base + "x")).status_code == 412
        assert len(rsps.calls) == 4
