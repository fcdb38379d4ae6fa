"""fhir-module push succeeds only on a transaction-response Bundle whose every entry
succeeded; it follows no redirect, has one time limit for the whole exchange and a cap on
the answer, escapes what the server says and never prints the URL's userinfo."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
import responses

from fhir_module._push import display_url, printable, push_bundle
from fhir_module.cli import main
from fhir_module.errors import FhirServerError

SERVER = "https://fhir.example.org/r4"


def _answer(
    request: Any, status: str = "201 Created", drop: int = 0, **entry_extra: Any
) -> dict[str, Any]:
    bundle = json.loads(request.body)
    entries = [
        {
            "response": {
                "status": status,
                "location": f"{e['request']['url']}/_history/1",
                **entry_extra,
            }
        }
        for e in bundle["entry"][drop:]
    ]
    return {"resourceType": "Bundle", "type": "transaction-response", "entry": entries}


def _one_bad_entry(request: Any) -> dict[str, Any]:
    answer = _answer(request)
    answer["entry"][2]["response"] = {
        "status": "422 Unprocessable Entity",
        "outcome": {
            "resourceType": "OperationOutcome",
            "issue": [
                {"severity": "error", "code": "processing", "diagnostics": "unknown code system"}
            ],
        },
    }
    return answer


def _push(
    capsys: pytest.CaptureFixture[str], *extra: str, server: str = SERVER
) -> tuple[int, str, str]:
    code = main(["push", "--fhir-server", server, *extra])
    out = capsys.readouterr()
    return code, out.out, out.err


def _mock(
    status: int, body: Callable[[Any], Any] | str, headers: dict[str, str] | None = None
) -> None:
    def callback(request: Any) -> tuple[int, dict[str, str], str]:
        text = body if isinstance(body, str) else json.dumps(body(request))
        return status, headers or {}, text

    responses.add_callback(responses.POST, SERVER, callback=callback)


@pytest.mark.parametrize(
    "status, body, headers, message",
    [
        (302, "", {"Location": "https://elsewhere.example.org/r4"}, "answered 302"),
        (307, "", {"Location": SERVER + "/"}, "a redirect"),
        (
            200,
            lambda r: {"resourceType": "OperationOutcome", "issue": []},
            None,
            "not a transaction-response Bundle",
        ),
        (200, "<html>welcome</html>", None, "not JSON"),
        (200, lambda r: {**_answer(r), "type": "batch-response"}, None, "batch-response"),
        (200, lambda r: _answer(r, drop=1), None, "entries for the"),
        (200, lambda r: _answer(r, status=""), None, "entries failed"),
        (200, lambda r: _answer(r, status="404 Not Found"), None, "entries failed"),
        (200, _one_bad_entry, None, "1 of"),
        (
            201,
            lambda r: {"resourceType": "Bundle", "type": "transaction-response"},
            None,
            "0 entries",
        ),
    ],
    ids=[
        "302",
        "307",
        "OperationOutcome",
        "html",
        "batch-response",
        "an entry missing",
        "no status",
        "every entry 404",
        "one entry 422",
        "no entries",
    ],
)
@responses.activate
def test_anything_but_every_entry_succeeding_exits_1(
    capsys: pytest.CaptureFixture[str],
    status: int,
    body: Any,
    headers: dict[str, str] | None,
    message: str,
) -> None:
    _mock(status, body, headers)
    code, out, err = _push(capsys)
    assert code == 1
    assert err.count("\n") == 1 and message in err, err
    assert "accepted by" not in out
    assert len(responses.calls) == 1  # sent once, never again elsewhere


@responses.activate
def test_failed_entries_are_listed_with_their_outcome(capsys: pytest.CaptureFixture[str]) -> None:
    _mock(200, _one_bad_entry)
    code, out, _ = _push(capsys)
    assert code == 1
    lines = out.splitlines()
    failed = [line for line in lines if line.startswith("failed: ")]
    assert len(failed) == 1 and failed[0].endswith(": 422 Unprocessable Entity")
    assert lines[lines.index(failed[0]) + 1] == "  error processing: unknown code system"


@responses.activate
def test_control_characters_from_the_server_are_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    outcome = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error\x1b[2J",
                "code": "processing",
                "diagnostics": "bad\r\nfhir-module: 0 errors, all pushed\x1b]0;owned\x07\u202e",
                "expression": ["Bundle.entry[0]\x1b[31m", 7],
            }
        ],
    }
    responses.add(responses.POST, SERVER, json=outcome, status=422)
    code, out, err = _push(capsys)
    assert code == 1
    for text in (out, err):
        assert "\x1b" not in text and "\r" not in text and "\x07" not in text
        assert "\u202e" not in text
    assert out.count("\n") == 1
    assert "\\x1b[2J" in out and "\\r\\nfhir-module" in out and "\\u202e" in out


@responses.activate
def test_entry_statuses_with_control_characters_are_escaped(
    capsys: pytest.CaptureFixture[str],
) -> None:
    _mock(200, lambda r: _answer(r, status="500 \x1b[32mOK\x1b[0m"))
    code, out, _ = _push(capsys)
    assert code == 1 and "\x1b" not in out and "\\x1b[32mOK" in out


@responses.activate
def test_the_query_of_the_url_is_never_printed(capsys: pytest.CaptureFixture[str]) -> None:
    url = "https://fhir.example.org/r4?api_key=k3y"
    responses.add_callback(
        responses.POST, url, callback=lambda r: (200, {}, json.dumps(_answer(r)))
    )
    code, out, err = _push(capsys, server=url)
    assert code == 0
    assert out.splitlines()[-1].endswith("accepted by https://fhir.example.org/r4")
    assert "k3y" not in out + err
    responses.replace(responses.POST, url, body=requests.ConnectionError("refused " + url))
    code, out, err = _push(capsys, server=url)
    assert code == 1
    assert "k3y" not in out + err


@responses.activate
def test_userinfo_in_the_url_is_refused_never_sent_nor_printed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # requests would send it as Basic credentials, in place of the bearer token.
    url = "https://admin:pa55w0rd@fhir.example.org/r4"
    code, out, err = _push(capsys, "--token", "s3cret", server=url)
    assert code == 2 and "user name or password" in err
    assert len(responses.calls) == 0
    for secret in ("admin", "pa55w0rd", "s3cret"):
        assert secret not in out + err
    with pytest.raises(FhirServerError):
        push_bundle({"resourceType": "Bundle", "entry": []}, url, "s3cret")
    assert len(responses.calls) == 0


@pytest.mark.parametrize(
    "url, shown",
    [
        ("https://u:p@h.example.org:8443/fhir?x=1#f", "https://h.example.org:8443/fhir"),
        ("http://[::1]:8080/fhir", "http://[::1]:8080/fhir"),
        ("https://h.example.org/fhir\x1b[0m", "https://h.example.org/fhir\\x1b[0m"),
        ("https://h.example.org:99999/", "the FHIR server"),
    ],
)
def test_display_url(url: str, shown: str) -> None:
    assert display_url(url) == shown


def test_printable_cuts_long_text() -> None:
    assert printable("x" * 1000, 10) == "x" * 10 + "..."
    assert printable({"a": 1}) == "{'a': 1}"


def test_a_bad_timeout_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    for value in ("0", "-1", "soon", "nan"):
        with pytest.raises(SystemExit) as done:
            main(["push", "--fhir-server", SERVER, "--timeout", value])
        assert done.value.code == 2
    capsys.readouterr()


# ----- a real server on loopback: redirects, trickling answers, floods


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    behaviour: Callable[[BaseHTTPRequestHandler], None]
    posts: list[str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.server.posts.append(self.path)
        self.server.authorizations.append(self.headers.get("Authorization"))
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.server.behaviour(self)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Iterator[_Server]:
    server = _Server(("127.0.0.1", 0), _Handler)
    server.posts = []
    server.authorizations = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _base(server: _Server) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}/fhir"


def test_a_redirect_is_not_followed_and_the_bundle_not_sent_again(
    loopback: _Server, capsys: pytest.CaptureFixture[str]
) -> None:
    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(307)
        handler.send_header("Location", "/elsewhere")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    loopback.behaviour = redirect
    code, _, err = _push(capsys, "--token", "s3cret", server=_base(loopback))
    assert code == 1 and "307" in err and "redirect" in err
    assert loopback.posts == ["/fhir"]


def test_a_trickling_answer_meets_the_total_time_out(
    loopback: _Server, capsys: pytest.CaptureFixture[str]
) -> None:
    stop = threading.Event()

    def trickle(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "application/fhir+json")
        handler.end_headers()
        handler.wfile.write(b'{"resourceType": "Bundle", ')
        while not stop.is_set():  # a byte now and then: no read ever times out
            handler.wfile.write(b" ")
            handler.wfile.flush()
            time.sleep(0.2)

    loopback.behaviour = trickle
    done: list[tuple[int, str, str]] = []
    # in a thread, so that a push that never ends fails the test rather than holding it
    worker = threading.Thread(
        target=lambda: done.append(_push(capsys, "--timeout", "1", server=_base(loopback))),
        daemon=True,
    )
    start = time.monotonic()
    worker.start()
    worker.join(10)
    elapsed = time.monotonic() - start
    stop.set()
    assert done, "push did not end"
    code, _, err = done[0]
    assert elapsed < 2.5
    assert code == 1 and err.strip() == "fhir-module: the FHIR server did not answer within 1 s"


def test_a_server_reading_the_bundle_slowly_meets_the_total_time_out() -> None:
    # The server takes a kilobyte now and then: no single send ever times out, but the
    # whole exchange must end at the time-out.
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def slow_reader() -> None:
        conn, _ = listener.accept()
        with conn:
            while not stop.is_set():
                with contextlib.suppress(OSError):
                    if not conn.recv(1024):
                        return
                time.sleep(0.2)

    threading.Thread(target=slow_reader, daemon=True).start()
    padding = "x" * 1024
    bundle = {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "resource": {"resourceType": "Basic", "id": f"b{n}", "text": {"div": padding}},
                "request": {"method": "PUT", "url": f"Basic/b{n}"},
            }
            for n in range(24 * 1024)  # some 30 MiB: more than the socket buffers hold
        ],
    }
    base = f"http://127.0.0.1:{listener.getsockname()[1]}/fhir"
    start = time.monotonic()
    try:
        with pytest.raises(FhirServerError, match="did not answer within 1 s"):
            push_bundle(bundle, base, timeout=1)
        elapsed = time.monotonic() - start
    finally:
        stop.set()
        listener.close()
    assert elapsed < 2.5


@pytest.mark.parametrize("with_length", [True, False])
def test_an_answer_over_the_cap_is_refused(loopback: _Server, with_length: bool) -> None:
    flood = json.dumps(
        {
            "resourceType": "Bundle",
            "type": "transaction-response",
            "entry": [{"response": {"status": "200 OK"}}] * 20_000,
        }
    ).encode()

    def send(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        if with_length:
            handler.send_header("Content-Length", str(len(flood)))
        handler.end_headers()
        handler.wfile.write(flood)

    loopback.behaviour = send
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": []}
    with pytest.raises(FhirServerError, match="larger than 65536 bytes"):
        push_bundle(bundle, _base(loopback), max_response_bytes=65536, timeout=5)


def _ok(handler: BaseHTTPRequestHandler) -> None:
    body = json.dumps({"resourceType": "Bundle", "type": "transaction-response", "entry": []})
    handler.send_response(200)
    handler.send_header("Content-Type", "application/fhir+json")
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body.encode())


@pytest.mark.parametrize("token", [["--token", "s3cret"], []])
def test_netrc_credentials_never_go_with_the_bundle(
    loopback: _Server,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Any,
    monkeypatch: pytest.MonkeyPatch,
    token: list[str],
) -> None:
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login admin password hunter2\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    monkeypatch.setenv("HOME", str(tmp_path))
    # requests finds them (a plain Session would send them): else the test would show nothing.
    assert requests.utils.get_netrc_auth(_base(loopback)) == ("admin", "hunter2")
    loopback.behaviour = _ok
    _push(capsys, *token, server=_base(loopback))
    assert loopback.authorizations == [("Bearer s3cret" if token else None)]
