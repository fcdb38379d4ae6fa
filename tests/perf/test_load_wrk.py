"""scripts/load.py --driver wrk: its arguments, the calls load.lua sends, wrk's figures."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from fhir_module.hooks import parse_hook_call
from fhir_module.knowledge import Knowledge

from .conftest import discovery_ids

SAMPLES = Path(__file__).resolve().parent / "wrk-samples"
needs_wrk = pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed")


# ----- arguments


def test_wrk_driver_defaults(load: ModuleType) -> None:
    args = load.arguments(["--driver", "wrk", "--replicas", "2"])
    assert (args.duration, args.feedback_calls, args.wrk_threads) == (20, 300, 1)
    assert load.arguments([]).driver == "python"  # the default driver is unchanged


@pytest.mark.parametrize(
    ("argv", "said"),
    [
        (["--duration", "5"], "--duration: for --driver wrk only"),
        (["--feedback-calls", "5", "--wrk-threads", "2"], "--feedback-calls, --wrk-threads"),
        (["--driver", "wrk", "--kill"], "--kill is for the python driver only"),
        (["--driver", "wrk", "--duration", "0"], "must be at least 1"),
        (["--driver", "wrk", "--replicas", "4", "--concurrency", "3"], "at least --replicas"),
        (["--driver", "ab"], "invalid choice: 'ab'"),
    ],
)
def test_bad_wrk_arguments_exit_2_saying_why(
    load: ModuleType, argv: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        load.arguments(argv)
    assert exit_.value.code == 2
    assert said in capsys.readouterr().err


def test_missing_wrk_is_one_line_and_exit_2_before_any_server_starts(
    load: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no wrk on PATH
    started: list[object] = []
    monkeypatch.setattr(load.Server, "start", lambda self, *_: started.append(self))
    assert load.main(["--driver", "wrk", "--db", str(tmp_path / "unused.sqlite3")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and started == []
    assert err.count("\n") == 1 and "wrk" in err and "apt-get install wrk" in err
    # the python driver does not need it
    assert load.wrk_missing() is not None
    assert load.arguments(["--db", str(tmp_path / "x.sqlite3")]).driver == "python"


# ----- wrk's output


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("812.00us", 812e-6), ("4.98ms", 4.98e-3), ("1.20s", 1.2), ("2.00m", 120.0)],
)
def test_wrk_durations(load: ModuleType, text: str, seconds: float) -> None:
    assert load.wrk_time(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "4.98", "ms", "4.98 parsecs"])
def test_a_wrk_duration_that_is_not_one_is_refused(load: ModuleType, text: str) -> None:
    with pytest.raises(ValueError, match="not a wrk duration"):
        load.wrk_time(text)


def test_parses_a_saved_run_of_load_lua_against_one_replica(load: ModuleType) -> None:
    # wrk -t 1 -c 8 -d 3s --latency -s scripts/load.lua against `fhir-module serve`
    result = load.parse_wrk((SAMPLES / "ok.txt").read_text())
    assert (result.requests, result.seconds, result.rate) == (1173, 3.12, 375.99)
    assert (result.p50, result.p99) == (pytest.approx(0.02165), pytest.approx(0.11729))
    assert result.socket_errors == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    assert result.non_2xx == result.errors == 0


def test_parses_non_2xx_answers_and_socket_errors(load: ModuleType) -> None:
    # calls to a service id the replica does not have (404), the replica killed after 2 s
    # of the 4 (read and write errors on its connections)
    result = load.parse_wrk((SAMPLES / "errors.txt").read_text())
    assert (result.requests, result.seconds) == (1570, 4.01)
    assert result.non_2xx == 1570  # load.lua's count: here the same as wrk's (404 > 399)
    assert result.socket_errors == {"connect": 0, "read": 8, "write": 119875, "timeout": 0}
    assert result.errors == 1570 + 8 + 119875


def test_output_without_latency_percentiles_is_refused_naming_the_flag(load: ModuleType) -> None:
    text = (SAMPLES / "ok.txt").read_text()
    without = "\n".join(line for line in text.splitlines() if "%" not in line or "Stdev" in line)
    with pytest.raises(ValueError, match=r"50% latency \(--latency\)"):
        load.parse_wrk(without)
    with pytest.raises(ValueError, match="non-2xx responses' line of load.lua"):
        load.parse_wrk(text.replace("non-2xx responses", "other"))


# ----- what load.lua sends


def test_each_call_line_rebuilds_the_example_with_a_new_hook_instance(
    load: ModuleType, knowledge: Knowledge
) -> None:
    ids = discovery_ids(knowledge) | {"order-sign": "renamed-sign"}  # as a config may name it
    templates = load.served_examples([ids])
    lines = load.wrk_calls(templates, ids)
    assert len(lines) == len(templates)
    for line, template in zip(lines, templates, strict=True):
        path, before, after = line.split("\t")
        assert path == f"/cds-services/{ids[template['hook']]}"
        instance = str(uuid.uuid4())
        body = json.loads(before + instance + after)
        assert body == {**template, "hookInstance": instance}
        assert parse_hook_call(body, template["hook"]).hook_instance == instance


def test_examples_of_a_hook_some_replica_lacks_are_not_sent(load: ModuleType) -> None:
    sign_only = load.served_examples(
        [{"order-sign": "a", "order-select": "b"}, {"order-sign": "a"}]
    )
    assert sign_only and {t["hook"] for t in sign_only} == {"order-sign"}
    with pytest.raises(RuntimeError, match="no example request"):
        load.served_examples([{"patient-view": "p"}])


class _Recorder(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as wrk expects
    disable_nagle_algorithm = True  # else each answer waits for a delayed ACK
    calls: list[tuple[str, dict[str, Any]]] = []
    lock = threading.Lock()

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        with self.lock:
            self.calls.append((self.path, body))
            status = 503 if len(self.calls) % 5 == 0 else 200
        self.send_response(status)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *_: Any) -> None:
        pass


class _Quiet(ThreadingHTTPServer):
    def handle_error(self, *_: Any) -> None:
        pass  # wrk drops its connections when its time is up


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.calls = []
    server = _Quiet(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def run_lua(
    load: ModuleType, url: str, calls: Path, threads: int, connections: int, seed: int
) -> Any:
    args = load.arguments(["--driver", "wrk", "--duration", "1", "--wrk-threads", str(threads)])
    command = load.wrk_command(url, connections, args, calls, 3, seed)
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=True)
    return load.parse_wrk(done.stdout)


def without_instance(body: dict[str, Any]) -> str:
    return json.dumps({**body, "hookInstance": None}, sort_keys=True)


@needs_wrk
def test_load_lua_sends_every_example_in_turn_each_call_new_and_counts_non_2xx(
    load: ModuleType, knowledge: Knowledge, recorder: str, tmp_path: Path
) -> None:
    ids = discovery_ids(knowledge)
    templates = load.served_examples([ids])
    calls = tmp_path / "calls.txt"
    calls.write_text("\n".join(load.wrk_calls(templates, ids)) + "\n", encoding="utf-8")
    expected = [(f"/cds-services/{ids[t['hook']]}", without_instance(t)) for t in templates]

    # one connection: the examples in turn, over and over
    result = run_lua(load, recorder, calls, 1, 1, seed=12345)
    received = list(_Recorder.calls)
    assert len(received) >= result.requests > 2 * len(templates)
    sent = [(path, without_instance(body)) for path, body in received]
    start = expected.index(sent[0])
    assert sent == [expected[(start + i) % len(expected)] for i in range(len(sent))]
    # the recorder answered every fifth call 503: load.lua counted those wrk finished
    refused = len(received) // 5
    assert result.non_2xx in {refused, refused - 1} and result.non_2xx > 0

    # two threads, four connections, another run (load.py gives each run its own seed):
    # still no hookInstance twice, each a UUID v4
    _Recorder.calls = []
    run_lua(load, recorder, calls, 2, 4, seed=54321)
    instances = [body["hookInstance"] for _, body in [*received, *_Recorder.calls]]
    assert len(set(instances)) == len(instances) > len(received)
    for instance in instances:
        parsed = uuid.UUID(instance)
        assert parsed.version == 4 and str(parsed) == instance
        assert instance[24:26] == "03"  # the replica number given to load.lua
    assert {body["hookInstance"][26:28] for _, body in _Recorder.calls} == {"01", "02"}  # threads


@needs_wrk
def test_a_short_wrk_run_on_sqlite_reports_cpu_and_checks_every_feedback(
    load: ModuleType, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--driver", "wrk", "--duration", "1", "--feedback-calls", "30"]
    assert load.main([*argv, "--workers", "1", "--concurrency", "4"]) == 0
    out = capsys.readouterr().out
    rate = re.search(r"^replica 1: (\d+)/s hook calls \((\d+) in", out, re.M)
    assert rate is not None and int(rate.group(2)) > 0
    assert re.search(r"^load average before: [\d.]+ [\d.]+ [\d.]+$", out, re.M)
    assert re.search(r"^load average after: [\d.]+ [\d.]+ [\d.]+$", out, re.M)
    cpu = re.search(r"^CPU over ([\d.]+) s x \d+ CPUs: replica 1 ([\d.]+) s .* driver", out, re.M)
    assert cpu is not None and float(cpu.group(2)) > 0
    assert "then, Python client: sent" in out and "30 hook calls" in out
    fed = re.search(r"acknowledged feedback in the database: (\d+) of (\d+)", out)
    assert fed is not None and fed.group(1) == fed.group(2) != "0"
    audited = re.search(r"rows of this run: (\d+) hook calls audited", out)
    assert audited is not None and int(audited.group(1)) >= int(rate.group(2)) + 30
    assert "NOT AUDITED" not in out
    assert out.rstrip().endswith("result: ok")


# ----- CPU accounting


def test_cpu_of_a_process_tree_and_where_the_cores_went(load: ModuleType) -> None:
    spin = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    parent = f"import subprocess, sys\nsubprocess.run([sys.executable, '-c', {spin!r}])\ninput()"
    child = subprocess.Popen([sys.executable, "-c", parent], stdin=subprocess.PIPE)
    try:
        deadline = 200
        while load.process_cpu_seconds(child.pid) < 0.25 and deadline:
            threading.Event().wait(0.05)
            deadline -= 1
        # the grandchild has exited: its time is in the child's waited-for children
        assert load.process_cpu_seconds(child.pid) >= 0.25
        assert child.pid in load.descendants(child.pid)
    finally:
        child.communicate(b"\n", timeout=30)
    assert load.process_cpu_seconds(child.pid) == 0.0  # gone
    lines = load.cpu_lines(
        {"replica 1": 10.0, "replica 2": 9.0, "PostgreSQL": 1.0, "driver": 0.5, "busy": 100.0},
        {"replica 1": 14.0, "replica 2": 13.0, "PostgreSQL": 3.0, "driver": 1.0, "busy": 116.0},
        10.0,
        4000,
    )
    cpus = os.cpu_count()
    assert lines[0] == (
        f"CPU over 10.0 s x {cpus} CPUs: replica 1 4.0 s (0.40 core), replica 2 4.0 s "
        "(0.40 core), PostgreSQL 2.0 s (0.20 core), driver 0.5 s (0.05 core)"
    )
    idle = (cpus or 1) * 10.0 - 16.0
    assert lines[1] == (
        f"  other work on the machine 5.5 s (0.55 core), idle {idle:.1f} s ({idle / 10:.2f} "
        "core); the replicas answered 500 requests per CPU second they took"
    )


def test_finds_the_postgresql_server_of_the_database(
    load: ModuleType, postgres_cluster: Any
) -> None:
    import psycopg

    url = postgres_cluster.url()
    postmaster = load.postmaster_pid(url)
    assert postmaster is not None
    assert Path(f"/proc/{postmaster}/comm").read_text().strip() in {"postgres", "postmaster"}
    with psycopg.connect(url) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert backend is not None and backend[0] in load.descendants(postmaster)
    assert load.postmaster_pid(Path("/tmp/a.sqlite3")) is None
