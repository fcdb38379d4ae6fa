"""A bounded load on the CDS Hooks service, on loopback: errors, memory, durable feedback.

    python scripts/load.py [--requests 3000] [--concurrency 16] [--workers 2] [--kill]
                           [--replicas N] [--db PATH|postgresql://...]

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
environment has none).

--kill: after 40% of the hook calls, SIGKILL the (first) server's whole process group,
start it again on the same database and port, and go on. Requests in flight at the kill may fail:
they are counted apart, and unacknowledged feedback is not looked for; every feedback
acknowledged before the kill or after the restart must be in the database.

Exit 0 when every acknowledged feedback is stored and no request failed (outside the
kill), 1 otherwise, 2 for bad arguments. Only loopback hosts are accepted.
"""

from __future__ import annotations

import argparse
import os
import random
import secrets
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
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

SERVICES = {
    "order-sign": "medication-safety-order-sign",
    "order-select": "medication-safety-order-select",
}
FEEDBACK_EVERY = 3
KILL_AT = 0.4
MIB = 1024 * 1024


# ----- what is sent


def hook_request(template: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """(service id, request): an example request as a new call, with its own hookInstance."""
    request = dict(template)
    request["hookInstance"] = str(uuid.uuid4())
    return SERVICES[str(template["hook"])], request


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


class Load:
    """The client threads, the memory sampler and the kill, around one server."""

    def __init__(self, servers: list[Server], args: argparse.Namespace) -> None:
        self.servers = servers
        self.server = servers[0]  # the one --kill kills
        self.args = args
        self.templates = [r for r in example_requests().values() if r.get("hook") in SERVICES]
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
        service, request = hook_request(self.templates[index % len(self.templates)])
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
        return max(1, int(self.args.requests * KILL_AT))

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
            for _ in pool.map(self.one, range(self.args.requests)):
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


def arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=3000, help="hook calls (3000)")
    parser.add_argument("--concurrency", type=int, default=16, help="client threads (16)")
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


def main(argv: list[str] | None = None) -> int:
    args = arguments(argv)
    print(machine())
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
        for server in servers:
            server.start()
        shown_db = db if not is_postgres(db) else str(db).split("?")[0]
        print(
            f"{args.replicas} replica(s) at {', '.join(s.base for s in servers)}, "
            f"{args.workers} worker(s) each, database {shown_db}; "
            f"{args.requests} hook calls from {args.concurrency} threads"
            + (", SIGKILL and restart at 40%" if args.kill else "")
        )
        load = Load(servers, args)
        try:
            elapsed = load.run()
        finally:
            for server in servers:
                server.stop()
        tally = load.tally
        missing = missing_feedback(db, tally.acknowledged)
        stored = counts(db)
    requests_sent = tally.hook_calls + tally.feedback_posts
    print(
        f"sent {requests_sent} requests in {elapsed:.1f} s ({requests_sent / elapsed:.0f}/s): "
        f"{tally.hook_calls} hook calls, {tally.feedback_posts} feedback posts"
    )
    for name, times in (("hook call", tally.hook_times), ("feedback", tally.feedback_times)):
        if times:
            print(
                f"{name:9s} p50 {percentile(times, 50) * 1000:7.2f} ms  "
                f"p99 {percentile(times, 99) * 1000:7.2f} ms  ({len(times)} answered)"
            )
    if args.replicas > 1:
        for index in sorted(tally.by_replica):
            hooks, feedback, failed = tally.by_replica[index]
            answered = len(hooks) + len(feedback)
            print(
                f"replica {index + 1}: {answered / elapsed:.0f}/s answered, hook call "
                f"p50 {percentile(hooks, 50) * 1000:.2f} ms p99 {percentile(hooks, 99) * 1000:.2f}"
                f" ms, {failed[0]} error(s)"
            )
    answered_total = len(tally.hook_times) + len(tally.feedback_times)
    print(f"total: {answered_total / elapsed:.0f}/s answered over {args.replicas} replica(s)")
    errors = sum(tally.errors.values())
    print(f"errors: {errors}" + (f" {tally.errors}" if errors else ""))
    if args.kill:
        lost = tally.kill_window_failures
        print(
            f"failed in flight at the kill (not counted as errors): {sum(lost.values())}"
            + (f" {lost}" if lost else "")
        )
    for text in memory_lines(load.memory):
        print(text)
    print(
        f"database: {stored['hook_call']} hook calls audited, {stored['card_shown']} cards, "
        f"{stored['feedback']} feedback rows"
    )
    print(
        f"acknowledged feedback in the database: {len(tally.acknowledged) - len(missing)} "
        f"of {len(tally.acknowledged)}"
        + (f"; MISSING: {', '.join(missing[:10])}" if missing else "")
    )
    ok = not missing and not errors
    print("result: " + ("ok" if ok else "FAILED"))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
