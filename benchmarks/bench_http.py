"""The service over HTTP on loopback: discovery against a hook call, one client and many.

Run by hand: ``python benchmarks/bench_http.py [--requests N] [--concurrency C]``.
Prints figures, asserts nothing. Starts ``fhir-module serve`` (open mode, 127.0.0.1, a
free port, a temporary database), waits for it, and times

- discovery, GET /cds-services: the HTTP stack's own cost (routing, JSON, the Guard);
- a hook call, POST /cds-services/medication-safety-order-sign with
  examples/order-sign-max-daily-dose-oral (3 cards, the audit committed to SQLite
  before the answer),

first one request at a time, then from C threads (one requests.Session each), then
stops the server. With ``--auth`` the server trusts one client (an ES384 key made for the
run, its JWKS in a file) and every call carries a fresh JWT, signed before the timing.
The goals: hook p50 at most 3 times discovery p50; p99 under 50 ms.
Client and server share the machine's CPUs, so the concurrent figures include the
client's own cost.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import jwt
import requests
from _harness import (
    LOOPBACK,
    SIGN_SERVICE,
    Server,
    example,
    free_port,
    machine,
    ms,
    percentile,
)
from cryptography.hazmat.primitives.asymmetric import ec
from jwt.algorithms import ECAlgorithm

RATIO_GOAL = 3.0
P99_GOAL = 0.050

Call = Callable[[requests.Session], requests.Response]


def sequential(call: Call, count: int) -> tuple[list[float], int]:
    """Seconds per request, one after another on one connection; and the failures."""
    samples, failures = [], 0
    with requests.Session() as session:
        for _ in range(5):
            call(session)
        for _ in range(count):
            start = time.perf_counter()
            response = call(session)
            samples.append(time.perf_counter() - start)
            failures += response.status_code != 200
    return samples, failures


def concurrent(call: Call, count: int, threads: int) -> tuple[list[float], int, float]:
    """`count` requests from `threads` threads, a Session each: latencies, failures, seconds."""
    local = threading.local()
    sessions: list[requests.Session] = []
    lock = threading.Lock()

    def session() -> requests.Session:
        if not hasattr(local, "session"):
            local.session = requests.Session()
            with lock:
                sessions.append(local.session)
        s: requests.Session = local.session
        return s

    def one(_: int) -> tuple[float, bool]:
        s = session()
        start = time.perf_counter()
        try:
            ok = call(s).status_code == 200
        except requests.RequestException:
            ok = False
        return time.perf_counter() - start, ok

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, range(threads * 2)))  # warm: every thread has its connection
        start = time.perf_counter()
        results = list(pool.map(one, range(count)))
        elapsed = time.perf_counter() - start
    for s in sessions:
        s.close()
    return [t for t, _ in results], sum(not ok for _, ok in results), elapsed


class Signer:
    """A client the server trusts: its key, the config that names it, tokens made ahead."""

    ISSUER = "https://ehr.bench.invalid"
    KID = "bench-es384"

    def __init__(self, folder: Path, public_base_url: str) -> None:
        self._private = ec.generate_private_key(ec.SECP384R1())
        public = json.loads(ECAlgorithm.to_jwk(self._private.public_key()))
        jwks = {"keys": [{**public, "kid": self.KID, "alg": "ES384", "use": "sig"}]}
        (folder / "bench-jwks.json").write_text(json.dumps(jwks))
        self.config = folder / "bench-cds.toml"
        self.config.write_text(
            f'public_base_url = "{public_base_url}"\n'
            f'[[clients]]\nissuer = "{self.ISSUER}"\njwks_file = "bench-jwks.json"\n'
            'fhir_servers = ["https://ehr.bench.invalid/fhir"]\n'
        )
        self._tokens: dict[str, Iterator[str]] = {}

    def prepare(self, url: str, count: int) -> None:
        """Sign `count` tokens for calls to `url` (each used once: the jti is checked)."""
        now = int(time.time())
        tokens = [
            jwt.encode(
                {
                    "iss": self.ISSUER,
                    "aud": url,
                    "iat": now,
                    "exp": now + 600,
                    "jti": str(uuid.uuid4()),
                },
                self._private,
                algorithm="ES384",
                headers={"kid": self.KID, "typ": "JWT"},
            )
            for _ in range(count)
        ]
        self._tokens[url] = iter(tokens)

    def headers(self, url: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {next(self._tokens[url])}"}


def line(name: str, samples: list[float], failures: int, elapsed: float | None = None) -> str:
    rate = f"  {len(samples) / elapsed:7.0f} req/s" if elapsed else ""
    return (
        f"{name:28s} p50 {ms(percentile(samples, 50))}  p99 {ms(percentile(samples, 99))}"
        f"{rate}  ({len(samples)} requests, {failures} failed)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500, help="per measurement (500)")
    parser.add_argument("--concurrency", type=int, default=8, help="client threads (8)")
    parser.add_argument("--workers", type=int, default=1, help="server processes (1)")
    parser.add_argument(
        "--auth",
        action="store_true",
        help="trusted clients configured: every call carries a signed JWT",
    )
    args = parser.parse_args()
    body = json.dumps(example("order-sign-max-daily-dose-oral")).encode()
    print(machine())
    with tempfile.TemporaryDirectory(prefix="fhir-module-bench-") as tmp:
        port = free_port()
        signer = Signer(Path(tmp), f"http://{LOOPBACK}:{port}") if args.auth else None
        server = Server(
            Path(tmp) / "bench.sqlite3",
            port=port,
            workers=args.workers,
            config=signer.config if signer else None,
        )
        with server:
            url = server.base + "/cds-services"
            hook_url = f"{url}/{SIGN_SERVICE}"
            if signer is not None:
                warm = 5 + 2 * args.concurrency
                for called in (url, hook_url):
                    signer.prepare(called, 2 * (args.requests + warm))

            def auth(called: str) -> dict[str, str]:
                return signer.headers(called) if signer is not None else {}

            def discovery(s: requests.Session) -> requests.Response:
                return s.get(url, headers=auth(url), timeout=10)

            def hook(s: requests.Session) -> requests.Response:
                headers = {"Content-Type": "application/json", **auth(hook_url)}
                return s.post(hook_url, data=body, headers=headers, timeout=10)

            print(
                f"server: {server.base}, {args.workers} worker(s), "
                f"{'trusted clients (JWT on every call)' if signer else 'open mode'}, "
                f"database in {tmp}; hook body {len(body)} bytes"
            )
            seq_d, fail = sequential(discovery, args.requests)
            print(line("discovery, sequential", seq_d, fail))
            seq_h, fail = sequential(hook, args.requests)
            print(line("hook call, sequential", seq_h, fail))
            con_d, fail, took = concurrent(discovery, args.requests, args.concurrency)
            print(line(f"discovery, {args.concurrency} threads", con_d, fail, took))
            con_h, fail, took = concurrent(hook, args.requests, args.concurrency)
            print(line(f"hook call, {args.concurrency} threads", con_h, fail, took))
    ratio = percentile(seq_h, 50) / percentile(seq_d, 50)
    print(
        f"hook p50 / discovery p50 (sequential): {ratio:.2f}   goal <= {RATIO_GOAL:.0f}: "
        f"{'met' if ratio <= RATIO_GOAL else 'missed'}"
    )
    for name, samples in (("sequential", seq_h), (f"{args.concurrency} threads", con_h)):
        p99 = percentile(samples, 99)
        verdict = "met" if p99 < P99_GOAL else "missed"
        print(f"hook p99, {name}: {ms(p99).strip()}   goal < 50 ms: {verdict}")


if __name__ == "__main__":
    main()
