"""A bounded load on the CDS Hooks service, on loopback: errors, memory, durable feedback.

    python scripts/load.py [--requests 3000] [--concurrency 16] [--workers 2] [--kill]
                           [--replicas N] [--db PATH|postgresql://...]
    python scripts/load.py --driver wrk [--duration 20] [--feedback-calls 300] ...

Starts ``fhir-module serve --workers N`` on 127.0.0.1 (a free port, a temporary
database), sends a fixed number of hook calls (every example request in turn, each with
a new hookInstance) from C threads, and after every third answered call with cards a
feedback post on one of its cards: accepted with a suggestion's uuid when the card has
suggestions, else overridden with the card's first override reason. It samples the
resident memory of the server and its workers (VmRSS in /proc) as it goes, stops the
server, and checks that every feedback the service acknowledged (HTTP 200) is in the
SQLite database.

--replicas N: start N servers (each with --workers) on the same database, on ports of their
own, as N hosts behind a load balancer would run; the calls go round-robin over them (a
call's feedback to the replica that answered it) and the summary gives each replica's
throughput and latency besides the total. --db names the database: a SQLite file or a
PostgreSQL URL (its database must exist; FHIR_MODULE_AUDIT_KEY is set for the run if the
environment has none: to run again on the same database, give every run the same key).

--driver wrk: the hook calls come from wrk (one wrk per replica, all at once, for --duration
seconds, --concurrency connections in all, split over the replicas), driven by
scripts/load.lua with the same mix: every example in turn, each with a new hookInstance, to
the service ids each replica's discovery names. wrk takes a fraction of the CPU the Python
client threads take, so more of the machine is left to the replicas. Then --feedback-calls
hook calls with their feedback posts go out from the Python client as above, and the same
check follows. The summary gives each replica's throughput, p50/p99 and errors (non-2xx,
socket errors) as wrk measured them. Both drivers print the CPU time the replicas,
PostgreSQL (the cluster of --db) and the driver took while the load ran, the rest of the
machine's busy time, and the load average before and after.

--kill: after 40% of the hook calls, SIGKILL the (first) server's whole process group,
start it again on the same database and port, and go on. Requests in flight at the kill may fail:
they are counted apart, and unacknowledged feedback is not looked for; every feedback
acknowledged before the kill or after the restart must be in the database.

Exit 0 when every acknowledged feedback is stored and no request failed (outside the
kill), 1 otherwise (with wrk also when an answered hook call is not audited), 2 for bad
arguments or no wrk program. Only loopback hosts are accepted.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import resource
import secrets
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
from _harness import (  # noqa: E402 - the shared harness lives beside the benchmarks
    Server,
    example_requests,
    is_loopback_host,
    machine,
    percentile,
)

FEEDBACK_EVERY = 3
KILL_AT = 0.4
MIB = 1024 * 1024
WRK_SCRIPT = Path(__file__).resolve().with_name("load.lua")
#: stands for the hookInstance in a request body written for load.lua
HOOK_INSTANCE_MARK = "@@hookInstance@@"


# ----- what is sent


def discovered_services(base: str) -> dict[str, str]:
    """{hook: service id} from a replica's discovery (the first service of each hook).

    RuntimeError, saying what came back, when discovery does not answer 200 with services.
    """
    answer = requests.get(f"{base}/cds-services", timeout=10)
    try:
        listed = answer.json()["services"] if answer.status_code == 200 else None
    except (ValueError, KeyError, TypeError):
        listed = None
    if not isinstance(listed, list):
        raise RuntimeError(
            f"{base}/cds-services answered {answer.status_code}, not a discovery response"
        )
    found: dict[str, str] = {}
    for service in listed:
        if isinstance(service, Mapping) and service.get("hook") and service.get("id"):
            found.setdefault(str(service["hook"]), str(service["id"]))
    if not found:
        raise RuntimeError(f"{base}/cds-services lists no service")
    return found


def hook_request(
    template: Mapping[str, Any], services: Mapping[str, str]
) -> tuple[str, dict[str, Any]]:
    """(service id, request): an example request as a new call, with its own hookInstance,
    for the service of its hook among `services` ({hook: id}, from discovery)."""
    request = dict(template)
    request["hookInstance"] = str(uuid.uuid4())
    return services[str(template["hook"])], request


def wrk_calls(templates: Sequence[Mapping[str, Any]], services: Mapping[str, str]) -> list[str]:
    """The lines of load.lua's calls file: "path<TAB>before<TAB>after" for each example, the
    body being before + a new hookInstance + after."""
    lines = []
    for template in templates:
        service, request = hook_request(template, services)
        request["hookInstance"] = HOOK_INSTANCE_MARK
        body = json.dumps(request, separators=(",", ":"), ensure_ascii=False)
        before, mark, after = body.partition(json.dumps(HOOK_INSTANCE_MARK))
        if not mark or HOOK_INSTANCE_MARK in after:
            raise ValueError(f"{HOOK_INSTANCE_MARK!r} is in the example itself: pick another")
        lines.append(f'/cds-services/{service}\t{before}"\t"{after}')
    return lines


def timestamp(moment: datetime | None = None) -> str:
    """A CDS Hooks outcomeTimestamp in UTC, as the service stores it (microseconds, Z)."""
    return (moment or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def feedback_for(response: Mapping[str, Any], rng: random.Random) -> dict[str, Any] | None:
    """A feedback body on one card of a hook response, or None when it has no cards.

    Accepted with one of its suggestions when the card offers any, else overridden with
    the card's first override reason (when it lists some) and a comment.
    """
    cards = [c for c in response.get("cards", []) if isinstance(c, Mapping) and c.get("uuid")]
    if not cards:
        return None
    card = rng.choice(cards)
    item: dict[str, Any] = {"card": card["uuid"], "outcomeTimestamp": timestamp()}
    suggestions = [s for s in card.get("suggestions", []) if s.get("uuid")]
    if suggestions:
        item["outcome"] = "accepted"
        item["acceptedSuggestions"] = [{"id": rng.choice(suggestions)["uuid"]}]
    else:
        item["outcome"] = "overridden"
        reason: dict[str, Any] = {"userComment": "load test: clinician aware"}
        if card.get("overrideReasons"):
            reason["reason"] = card["overrideReasons"][0]
        item["overrideReason"] = reason
    return {"feedback": [item]}


# ----- the run


@dataclass
class Tally:
    """What happened, shared by the client threads (under `lock`)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    hook_times: list[float] = field(default_factory=list)
    feedback_times: list[float] = field(default_factory=list)
    #: per replica: (hook call seconds, feedback seconds, failures)
    by_replica: dict[int, tuple[list[float], list[float], list[int]]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    kill_window_failures: dict[str, int] = field(default_factory=dict)
    acknowledged: list[tuple[str, str, str, str]] = field(default_factory=list)
    hook_calls: int = 0
    feedback_posts: int = 0

    def replica(self, index: int) -> tuple[list[float], list[float], list[int]]:
        return self.by_replica.setdefault(index, ([], [], [0]))

    def failure(
        self, what: str, started: float, ended: float, kill: KillWindow, replica: int = 0
    ) -> None:
        with self.lock:
            in_kill = kill.overlaps(started, ended) and replica == 0
            kind = self.kill_window_failures if in_kill else self.errors
            kind[what] = kind.get(what, 0) + 1
            if not in_kill:
                self.replica(replica)[2][0] += 1


@dataclass
class KillWindow:
    """From the SIGKILL to the restarted server answering (monotonic seconds)."""

    start: float | None = None
    end: float | None = None

    def overlaps(self, started: float, ended: float) -> bool:
        if self.start is None:
            return False
        return ended >= self.start and (self.end is None or started <= self.end)


def served_examples(services: list[dict[str, str]]) -> list[dict[str, Any]]:
    """The example requests of the hooks every replica serves; RuntimeError if none."""
    hooks = set.intersection(*(set(s) for s in services))
    templates = [r for r in example_requests().values() if r.get("hook") in hooks]
    if not templates:
        raise RuntimeError(f"no example request is for a hook the replicas serve ({hooks})")
    return templates


class Load:
    """The client threads, the memory sampler and the kill, around one server."""

    def __init__(
        self,
        servers: list[Server],
        args: argparse.Namespace,
        services: list[dict[str, str]],
        calls: int | None = None,
    ) -> None:
        self.servers = servers
        self.server = servers[0]  # the one --kill kills
        self.args = args
        self.services = services  # per replica, {hook: service id} from its discovery
        self.calls = args.requests if calls is None else calls
        self.templates = served_examples(services)
        self.tally = Tally()
        self.kill = KillWindow()
        self.up = threading.Event()
        self.up.set()
        self.generation = 0  # a new server: every thread opens new connections
        self.local = threading.local()
        self.done = 0
        self.memory: list[tuple[int, float, int]] = []  # (server life, seconds, RSS bytes)
        self.life = 0
        self.stopping = threading.Event()

    def session(self) -> requests.Session:
        local = self.local
        if getattr(local, "generation", None) != self.generation:
            if hasattr(local, "session"):
                local.session.close()
            local.session = requests.Session()
            local.generation = self.generation
        s: requests.Session = local.session
        return s

    def post(
        self, path: str, body: Any, what: str, replica: int = 0
    ) -> tuple[requests.Response | None, float]:
        """POST JSON to one replica; (response if 2xx else None, seconds). Failures go to
        the tally."""
        if replica == 0:
            self.up.wait()
        session = self.session()
        started = time.monotonic()
        try:
            response = session.post(self.servers[replica].base + path, json=body, timeout=30)
        except requests.RequestException as exc:
            self.tally.failure(
                f"{what}: {type(exc).__name__}", started, time.monotonic(), self.kill, replica
            )
            return None, 0.0
        ended = time.monotonic()
        if not 200 <= response.status_code < 300:
            self.tally.failure(
                f"{what}: HTTP {response.status_code}", started, ended, self.kill, replica
            )
            return None, 0.0
        return response, ended - started

    def one(self, index: int) -> None:
        rng = random.Random(index)
        replica = index % len(self.servers)
        service, request = hook_request(
            self.templates[index % len(self.templates)], self.services[replica]
        )
        response, seconds = self.post(f"/cds-services/{service}", request, "hook", replica)
        with self.tally.lock:
            self.tally.hook_calls += 1
            if response is not None:
                self.tally.hook_times.append(seconds)
                self.tally.replica(replica)[0].append(seconds)
        if response is None or index % FEEDBACK_EVERY:
            return self.count_done()
        body = feedback_for(response.json(), rng)
        if body is not None:
            answer, seconds = self.post(
                f"/cds-services/{service}/feedback", body, "feedback", replica
            )
            with self.tally.lock:
                self.tally.feedback_posts += 1
                if answer is not None and answer.status_code == 200:
                    item = body["feedback"][0]
                    self.tally.feedback_times.append(seconds)
                    self.tally.replica(replica)[1].append(seconds)
                    self.tally.acknowledged.append(
                        (service, item["card"], item["outcome"], item["outcomeTimestamp"])
                    )
        self.count_done()

    def count_done(self) -> None:
        with self.tally.lock:
            self.done += 1
            due = self.args.kill and self.kill.start is None and self.done >= self.kill_after
        if due:
            self.kill_and_restart()

    @property
    def kill_after(self) -> int:
        return max(1, int(self.calls * KILL_AT))

    def kill_and_restart(self) -> None:
        with self.tally.lock:
            if self.kill.start is not None:
                return
            self.kill.start = time.monotonic()
        self.up.clear()
        self.server.kill()
        print(f"  killed the server (SIGKILL to its process group) after {self.done} calls")
        self.server.start()
        self.generation += 1
        self.life += 1
        self.kill.end = time.monotonic()
        print(f"  restarted on the same database in {self.kill.end - self.kill.start:.1f} s")
        self.up.set()

    def sample_memory(self) -> None:
        began = time.monotonic()
        while not self.stopping.wait(0.25):
            if not self.up.is_set():
                continue  # a server being killed or started is not measured
            rss = sum(server.rss_bytes() for server in self.servers)
            if rss:
                self.memory.append((self.life, time.monotonic() - began, rss))

    def run(self) -> float:
        sampler = threading.Thread(target=self.sample_memory, daemon=True)
        self.memory.append((0, 0.0, sum(s.rss_bytes() for s in self.servers)))
        sampler.start()
        started = time.monotonic()
        with ThreadPoolExecutor(self.args.concurrency) as pool:
            for _ in pool.map(self.one, range(self.calls)):
                pass
        elapsed = time.monotonic() - started
        self.memory.append((self.life, elapsed, sum(s.rss_bytes() for s in self.servers)))
        self.stopping.set()
        sampler.join()
        return elapsed


# ----- checks and the summary


def is_postgres(db: Path | str) -> bool:
    return str(db).startswith(("postgresql://", "postgres://"))


def read_only(db: Path | str) -> Any:
    """A connection that reads the run's database, SQLite or PostgreSQL (`?` placeholders)."""
    if is_postgres(db):
        import psycopg

        conn = psycopg.connect(str(db))

        class Reader:
            def execute(self, sql: str, params: tuple[Any, ...] = ()) -> Any:
                return conn.execute(sql.replace("?", "%s"), params)

            def close(self) -> None:
                conn.close()

        return Reader()
    return sqlite3.connect(f"file:{db}?mode=ro", uri=True)


def missing_feedback(db: Path | str, acknowledged: list[tuple[str, str, str, str]]) -> list[str]:
    """The card uuids of acknowledged feedback that the database does not hold."""
    conn = read_only(db)
    try:
        missing = []
        for service, card, outcome, moment in acknowledged:
            row = conn.execute(
                "SELECT 1 FROM feedback WHERE service_id = ? AND card_uuid = ? AND outcome = ?"
                " AND outcome_timestamp = ?",
                (service, card, outcome, moment),
            ).fetchone()
            if row is None:
                missing.append(card)
        return missing
    finally:
        conn.close()


def counts(db: Path | str) -> dict[str, int]:
    conn = read_only(db)
    try:
        return {
            table: conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("hook_call", "card_shown", "feedback")
        }
    finally:
        conn.close()


def memory_lines(samples: list[tuple[int, float, int]]) -> Iterator[str]:
    for life in sorted({s[0] for s in samples}):
        mine = [s for s in samples if s[0] == life and s[2]]
        if not mine:
            continue
        name = "server" if life == 0 else "restarted server"
        peak = max(mine, key=lambda s: s[2])
        yield (
            f"memory ({name}, RSS of all its processes): start {mine[0][2] / MIB:.1f} MiB, "
            f"peak {peak[2] / MIB:.1f} MiB at {peak[1]:.1f} s, end {mine[-1][2] / MIB:.1f} MiB "
            f"({len(mine)} samples)"
        )
        if len(mine) >= 8:
            # Warm-up (imports, caches, the allocator's arenas) fills the first part of a run;
            # a leak shows as growth that goes on through the second half.
            quarters = [mine[min(len(mine) - 1, len(mine) * q // 4)][2] for q in (1, 2, 3, 4)]
            shown = ", ".join(f"{rss / MIB:.1f}" for rss in quarters)
            growth = (mine[-1][2] - mine[len(mine) // 2][2]) / MIB
            yield f"  at 1/4, 1/2, 3/4, end of the run: {shown} MiB; second half {growth:+.1f} MiB"


# ----- where the CPU went


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and of its children it has waited for (/proc/PID/stat);
    0 when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # the command name, in parentheses, may hold spaces: the fields start after the last ')'
    fields = stat.rsplit(")", 1)[1].split()
    utime, stime, cutime, cstime = (int(f) for f in fields[11:15])
    return (utime + stime + cutime + cstime) / os.sysconf("SC_CLK_TCK")


def descendants(pid: int) -> list[int]:
    """A process and all its descendants (/proc/PID/task/PID/children)."""
    found, frontier = [pid], [pid]
    while frontier:
        parent = frontier.pop()
        try:
            children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
        except OSError:
            continue
        found.extend(map(int, children))
        frontier.extend(map(int, children))
    return found


def postmaster_pid(db: Path | str) -> int | None:
    """The PostgreSQL server process of the --db cluster (the parent of this connection's
    backend), or None when it is not on this machine's /proc or not PostgreSQL."""
    if not is_postgres(db):
        return None
    import psycopg

    with psycopg.connect(str(db)) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()
        if backend is None:
            return None
        try:
            status = Path(f"/proc/{backend[0]}/status").read_text()
        except OSError:
            return None
    parent = int(re.search(r"^PPid:\s+(\d+)", status, re.M).group(1))  # type: ignore[union-attr]
    return parent if parent > 1 else None


def machine_busy_seconds() -> float:
    """CPU seconds all CPUs have spent busy since boot (/proc/stat: all but idle, iowait)."""
    fields = [int(f) for f in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")


def driver_cpu_seconds() -> float:
    """This script's CPU and that of its waited-for children (the wrk processes)."""
    mine = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return mine.ru_utime + mine.ru_stime + children.ru_utime + children.ru_stime


class CpuMeter:
    """CPU seconds by part: each replica, PostgreSQL, the driver, and the machine's busy time."""

    def __init__(self, servers: list[Server], postmaster: int | None) -> None:
        self.servers = servers
        self.postmaster = postmaster

    def sample(self) -> dict[str, float]:
        parts = {
            f"replica {i + 1}": sum(process_cpu_seconds(pid) for pid in server.pids())
            for i, server in enumerate(self.servers)
        }
        if self.postmaster is not None:
            # exited backends are in the postmaster's children's time
            parts["PostgreSQL"] = sum(map(process_cpu_seconds, descendants(self.postmaster)))
        parts["driver"] = driver_cpu_seconds()
        parts["busy"] = machine_busy_seconds()
        return parts


def cpu_lines(
    before: dict[str, float], after: dict[str, float], seconds: float, answered: int
) -> list[str]:
    """Where the cores went between two samples: each part's CPU seconds and cores, and the
    requests the replicas answered per CPU second they took (what one more core is worth)."""
    spent = {name: after[name] - before[name] for name in before}
    busy = spent.pop("busy")
    cpus = os.cpu_count() or 1
    shown = [f"{name} {cpu:.1f} s ({cpu / seconds:.2f} core)" for name, cpu in spent.items()]
    other = busy - sum(spent.values())
    idle = cpus * seconds - busy
    replicas = sum(cpu for name, cpu in spent.items() if name.startswith("replica "))
    per_cpu = f"{answered / replicas:.0f}" if replicas > 0 else "-"
    return [
        f"CPU over {seconds:.1f} s x {cpus} CPUs: " + ", ".join(shown),
        f"  other work on the machine {other:.1f} s ({other / seconds:.2f} core), "
        f"idle {idle:.1f} s ({idle / seconds:.2f} core); the replicas answered {per_cpu} "
        "requests per CPU second they took",
    ]


def load_average() -> str:
    return "{:.2f} {:.2f} {:.2f}".format(*os.getloadavg())


# ----- wrk


@dataclass
class WrkResult:
    """What one wrk run printed (--latency): times in seconds."""

    requests: int
    seconds: float
    rate: float
    p50: float
    p99: float
    socket_errors: dict[str, int]
    non_2xx: int

    @property
    def errors(self) -> int:
        return self.non_2xx + sum(self.socket_errors.values())


_TIME_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TIME = r"([\d.]+)(us|ms|s|m|h)"


def wrk_time(text: str) -> float:
    """A wrk duration ("812.00us", "4.98ms", "1.20s", "2.00m") in seconds."""
    found = re.fullmatch(_TIME, text.strip())
    if found is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(found.group(1)) * _TIME_UNITS[found.group(2)]


def parse_wrk(output: str) -> WrkResult:
    """The figures of `wrk --latency -s load.lua` output; ValueError naming what is missing."""

    def find(pattern: str, what: str) -> re.Match[str]:
        found = re.search(pattern, output, re.M)
        if found is None:
            raise ValueError(f"no {what} in the wrk output:\n{output.strip()[:2000]}")
        return found

    total = find(rf"^\s*(\d+) requests in {_TIME},", "request count")
    sockets = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    socket_errors = dict.fromkeys(("connect", "read", "write", "timeout"), 0)
    if sockets:
        socket_errors = dict(zip(socket_errors, map(int, sockets.groups()), strict=True))
    # wrk's own count ("Non-2xx or 3xx responses") is of statuses above 399; load.lua counts
    # every status outside 200-299
    lua = find(r"^non-2xx responses: (\d+)$", "'non-2xx responses' line of load.lua")
    seconds = wrk_time(total.group(2) + total.group(3))
    return WrkResult(
        requests=int(total.group(1)),
        seconds=seconds,
        rate=float(find(r"^Requests/sec:\s+([\d.]+)", "Requests/sec").group(1)),
        p50=wrk_time(find(rf"^\s+50%\s+({_TIME})", "50% latency (--latency)").group(1)),
        p99=wrk_time(find(rf"^\s+99%\s+({_TIME})", "99% latency (--latency)").group(1)),
        socket_errors=socket_errors,
        non_2xx=int(lua.group(1)),
    )


def wrk_missing() -> str | None:
    """The one-line reason --driver wrk cannot run, or None when wrk is on PATH."""
    if shutil.which("wrk"):
        return None
    return (
        "load.py: --driver wrk needs the wrk program, which is not on PATH "
        "(Debian: apt-get install wrk)"
    )


def wrk_command(
    base: str, connections: int, args: argparse.Namespace, calls: Path, replica: int, seed: int
) -> list[str]:
    """The wrk command line that drives one replica."""
    threads = min(args.wrk_threads, connections)
    return [
        "wrk", "-t", str(threads), "-c", str(connections), "-d", f"{args.duration}s",
        "--latency", "--timeout", "30s", "-s", str(WRK_SCRIPT), base,
        "--", str(calls), str(replica), str(seed),
    ]  # fmt: skip


def run_wrk(
    servers: list[Server], services: list[dict[str, str]], args: argparse.Namespace, tmp: Path
) -> list[WrkResult]:
    """One wrk per replica, all at once; their results in replica order.

    The connections (--concurrency) are split over the replicas, so one and several
    replicas are measured under the same number of calls in flight.
    """
    templates = served_examples(services)
    seed = secrets.randbelow(2**31)
    processes = []
    for index, (server, served) in enumerate(zip(servers, services, strict=True)):
        calls = tmp / f"wrk-calls-{index}.txt"
        calls.write_text("\n".join(wrk_calls(templates, served)) + "\n", encoding="utf-8")
        connections = max(1, args.concurrency // len(servers))
        command = wrk_command(server.base, connections, args, calls, index + 1, seed)
        output = tmp / f"wrk-{index}.out"
        with open(output, "wb") as out:
            processes.append(
                (output, subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT))
            )
    results = []
    for output, process in processes:
        code = process.wait()
        text = output.read_text(errors="replace")
        if code != 0:
            raise RuntimeError(f"wrk exited with {code}:\n{text.strip()[:2000]}")
        results.append(parse_wrk(text))
    return results


# ----- the command


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--driver",
        choices=("python", "wrk"),
        default="python",
        help="who sends the hook calls: Python client threads, or wrk with load.lua (python)",
    )
    parser.add_argument("--requests", type=int, default=3000, help="hook calls (3000; python)")
    parser.add_argument(
        "--duration", type=int, help="seconds of hook calls (--driver wrk only; 20)"
    )
    parser.add_argument(
        "--feedback-calls",
        type=int,
        help="hook calls with their feedback, after wrk, from the Python client (300)",
    )
    parser.add_argument(
        "--wrk-threads", type=int, help="threads of each wrk (--driver wrk only; 1)"
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=16,
        help="client threads, or wrk connections in all (16)",
    )
    parser.add_argument("--workers", type=int, default=2, help="server processes (2)")
    parser.add_argument("--host", default="127.0.0.1", help="a loopback address (127.0.0.1)")
    parser.add_argument("--kill", action="store_true", help="SIGKILL and restart mid-run")
    parser.add_argument(
        "--db", help="a SQLite file or a PostgreSQL URL (default: a temporary SQLite file)"
    )
    parser.add_argument("--replicas", type=int, default=1, help="servers on the same database (1)")
    args = parser.parse_args(argv)
    if not is_loopback_host(args.host):
        parser.error(f"refusing {args.host}: the load runs against loopback only")
    if args.requests < 1 or args.concurrency < 1 or args.workers < 1 or args.replicas < 1:
        parser.error("--requests, --concurrency, --workers and --replicas must be at least 1")
    wrk_only = {"--duration": args.duration, "--feedback-calls": args.feedback_calls}
    wrk_only["--wrk-threads"] = args.wrk_threads
    if args.driver == "wrk":
        if args.kill:
            parser.error("--kill is for the python driver only")
        args.duration = 20 if args.duration is None else args.duration
        args.feedback_calls = 300 if args.feedback_calls is None else args.feedback_calls
        args.wrk_threads = 1 if args.wrk_threads is None else args.wrk_threads
        if args.duration < 1 or args.feedback_calls < 1 or args.wrk_threads < 1:
            parser.error("--duration, --feedback-calls and --wrk-threads must be at least 1")
        if args.concurrency < args.replicas:
            parser.error("--concurrency (wrk connections in all) must be at least --replicas")
    elif given := [name for name, value in wrk_only.items() if value is not None]:
        parser.error(f"{', '.join(given)}: for --driver wrk only")
    if args.db and is_postgres(args.db):
        from urllib.parse import parse_qs, urlsplit

        parts = urlsplit(args.db)
        socket_dir = parse_qs(parts.query).get("host", [""])[0]
        if not (
            is_loopback_host(parts.hostname or "")
            or (not parts.hostname and (not socket_dir or socket_dir.startswith("/")))
        ):
            parser.error("refusing a database that is not on this machine (loopback or socket)")
    return args


def start(servers: list[Server]) -> None:
    """Start every replica; RuntimeError with the end of its log when one does not come up."""
    for server in servers:
        try:
            server.start()
        except RuntimeError as exc:
            log = server.log.read_text(errors="replace") if server.log else ""
            tail = "\n".join(log.strip().splitlines()[-5:])
            raise RuntimeError(f"{server.base}: {exc}; its log ends:\n{tail}") from None


def report_python_load(load: Load, elapsed: float, replicas: int, title: str = "") -> None:
    """Throughput and latency of the Python client's calls, in all and per replica."""
    tally = load.tally
    requests_sent = tally.hook_calls + tally.feedback_posts
    print(
        f"{title}sent {requests_sent} requests in {elapsed:.1f} s "
        f"({requests_sent / elapsed:.0f}/s): "
        f"{tally.hook_calls} hook calls, {tally.feedback_posts} feedback posts"
    )
    for name, times in (("hook call", tally.hook_times), ("feedback", tally.feedback_times)):
        if times:
            print(
                f"{name:9s} p50 {percentile(times, 50) * 1000:7.2f} ms  "
                f"p99 {percentile(times, 99) * 1000:7.2f} ms  ({len(times)} answered)"
            )
    if replicas > 1:
        for index in sorted(tally.by_replica):
            hooks, feedback, failed = tally.by_replica[index]
            answered = len(hooks) + len(feedback)
            print(
                f"replica {index + 1}: {answered / elapsed:.0f}/s answered, hook call "
                f"p50 {percentile(hooks, 50) * 1000:.2f} ms p99 {percentile(hooks, 99) * 1000:.2f}"
                f" ms, {failed[0]} error(s)"
            )
    answered_total = len(tally.hook_times) + len(tally.feedback_times)
    print(f"total: {answered_total / elapsed:.0f}/s answered over {replicas} replica(s)")


def report_wrk(results: list[WrkResult]) -> int:
    """Each replica's wrk figures and the total; the number of errors."""
    for index, result in enumerate(results):
        sockets = ", ".join(f"{k} {v}" for k, v in result.socket_errors.items())
        print(
            f"replica {index + 1}: {result.rate:.0f}/s hook calls ({result.requests} in "
            f"{result.seconds:.1f} s), p50 {result.p50 * 1000:.2f} ms, "
            f"p99 {result.p99 * 1000:.2f} ms; non-2xx {result.non_2xx}, socket errors: {sockets}"
        )
    total = sum(r.rate for r in results)
    errors = sum(r.errors for r in results)
    print(
        f"total: {total:.0f}/s hook calls over {len(results)} replica(s) (wrk), "
        f"{sum(r.requests for r in results)} answered, {errors} error(s)"
    )
    return errors


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    if args.driver == "wrk" and (reason := wrk_missing()):
        print(reason, file=sys.stderr)
        return 2
    try:
        return run(args)
    except RuntimeError as exc:
        print(f"load.py: {exc}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace) -> int:
    print(machine())
    before_load = load_average()
    with tempfile.TemporaryDirectory(prefix="fhir-module-load-") as tmp:
        db: Path | str = Path(tmp) / "load.sqlite3"
        if args.db:
            db = args.db if is_postgres(args.db) else Path(args.db)
        if is_postgres(db) and not os.environ.get("FHIR_MODULE_AUDIT_KEY"):
            os.environ["FHIR_MODULE_AUDIT_KEY"] = secrets.token_hex(32)  # one for all replicas
        servers = [
            Server(db, workers=args.workers, host=args.host, log=Path(tmp) / f"serve-{i}.log")
            for i in range(args.replicas)
        ]
        wrk_results: list[WrkResult] = []
        try:
            start(servers)
            already = counts(db)  # a database used before holds rows of earlier runs
            services = [discovered_services(server.base) for server in servers]
            meter = CpuMeter(servers, postmaster_pid(db))
            shown_db = db if not is_postgres(db) else str(db).split("?")[0]
            sender = (
                f"wrk for {args.duration} s, {args.concurrency} connections in all"
                if args.driver == "wrk"
                else f"{args.requests} hook calls from {args.concurrency} threads"
            )
            print(
                f"{args.replicas} replica(s) at {', '.join(s.base for s in servers)}, "
                f"{args.workers} worker(s) each, database {shown_db}; {sender}"
                + (", SIGKILL and restart at 40%" if args.kill else "")
            )
            print(f"load average before: {before_load}")
            cpu_before, started = meter.sample(), time.monotonic()
            if args.driver == "wrk":
                wrk_results = run_wrk(servers, services, args, Path(tmp))
                load = Load(servers, args, services, calls=args.feedback_calls)
            else:
                load = Load(servers, args, services)
                load.run()
            cpu_after, elapsed = meter.sample(), time.monotonic() - started
            after_load = load_average()
            if args.driver == "wrk":
                feedback_elapsed = load.run()
        finally:
            for server in servers:
                server.stop()
        tally = load.tally
        missing = missing_feedback(db, tally.acknowledged)
        stored = {table: rows - already[table] for table, rows in counts(db).items()}
    errors = sum(tally.errors.values())
    unaudited = 0
    if args.driver == "wrk":
        errors += report_wrk(wrk_results)
        print(f"load average after: {after_load}")
        answered_in_window = sum(r.requests for r in wrk_results)
        for text in cpu_lines(cpu_before, cpu_after, elapsed, answered_in_window):
            print(text)
        report_python_load(load, feedback_elapsed, args.replicas, "then, Python client: ")
        answered = sum(r.requests - r.non_2xx for r in wrk_results) + len(tally.hook_times)
        unaudited = max(0, answered - stored["hook_call"])
    else:
        report_python_load(load, elapsed, args.replicas)
        print(f"load average after: {after_load}")
        answered_in_window = len(tally.hook_times) + len(tally.feedback_times)
        if args.kill:
            print("CPU: not measured with --kill (the killed server's time went with it)")
        else:
            for text in cpu_lines(cpu_before, cpu_after, elapsed, answered_in_window):
                print(text)
    print(f"errors: {errors}" + (f" {tally.errors}" if tally.errors else ""))
    if args.kill:
        lost = tally.kill_window_failures
        print(
            f"failed in flight at the kill (not counted as errors): {sum(lost.values())}"
            + (f" {lost}" if lost else "")
        )
    for text in memory_lines(load.memory):
        print(text)
    print(
        f"database, rows of this run: {stored['hook_call']} hook calls audited, "
        f"{stored['card_shown']} cards, {stored['feedback']} feedback rows"
        + (f"; {unaudited} answered hook calls NOT AUDITED" if unaudited else "")
    )
    print(
        f"acknowledged feedback in the database: {len(tally.acknowledged) - len(missing)} "
        f"of {len(tally.acknowledged)}"
        + (f"; MISSING: {', '.join(missing[:10])}" if missing else "")
    )
    ok = not missing and not errors and not unaudited
    print("result: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
