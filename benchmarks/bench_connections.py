"""A valid caller's request at the connection limits, and the cost of the URL checks.

Run by hand: ``python benchmarks/bench_connections.py [--requests N] [--cap C]``.
Prints figures, asserts nothing. Starts ``fhir-module serve`` (open mode, 127.0.0.1, a
free port, FHIR_MODULE_MAX_CONNECTIONS=C) and times discovery, each request on a new
connection,

- with nothing else open (the baseline);
- with C idle connections held open: every new connection closes the longest-waiting
  one (a scan of the open connections), and the benchmark opens another idle one after
  each request, so the server stays at its cap;
- with C connections sending their headers a byte every 0.2 s (slow senders), closed by
  the header deadline and reopened by the benchmark as they go.

Then, in process, the cost of reading a fhirServer and checking a read URL and a
`next` link under it (parse_base_url, BaseUrl.join, BaseUrl.inside).
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import threading
import time
import timeit
from collections.abc import Callable
from contextlib import suppress
from pathlib import Path

import requests
from _harness import LOOPBACK, Server, machine, ms, percentile

from fhir_module.hooks._urls import parse_base_url


def timed(
    url: str, count: int, between: Callable[[], None] | None = None
) -> tuple[list[float], int]:
    """Seconds per request, each on a new connection; and the failures."""
    samples, failures = [], 0
    for _ in range(count):
        start = time.perf_counter()
        try:
            # A new connection each time: Connection: close, no session.
            ok = requests.get(url, headers={"Connection": "close"}, timeout=10).status_code == 200
        except requests.RequestException:
            ok = False
        samples.append(time.perf_counter() - start)
        failures += not ok
        if between is not None:
            between()
    return samples, failures


def line(name: str, samples: list[float], failures: int) -> str:
    return (
        f"{name:36s} p50 {ms(percentile(samples, 50))}  p99 {ms(percentile(samples, 99))}"
        f"  ({len(samples)} requests, {failures} failed)"
    )


class Crowd:
    """`size` connections to the server, idle or trickling header bytes, kept at `size`."""

    def __init__(self, address: tuple[str, int], size: int, *, trickle: bool) -> None:
        self.address, self.size, self.trickle = address, size, trickle
        self.socks: list[socket.socket] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._keep, daemon=True)

    def _open(self) -> None:
        sock = socket.create_connection(self.address)
        sock.setblocking(False)
        if self.trickle:
            sock.send(b"GET /cds-services HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        self.socks.append(sock)

    def top_up(self) -> None:
        alive = []
        for sock in self.socks:
            try:
                if sock.recv(1) == b"":
                    sock.close()
                    continue
            except BlockingIOError:
                pass
            except OSError:
                sock.close()
                continue
            alive.append(sock)
        self.socks = alive
        while len(self.socks) < self.size:
            self._open()

    def _keep(self) -> None:
        while not self.stop.wait(0.2):
            if self.trickle:
                for sock in self.socks:
                    with suppress(OSError):  # closed by the server: top_up replaces it
                        sock.send(b"a")
            self.top_up()

    def __enter__(self) -> Crowd:
        self.top_up()
        if self.trickle:
            self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        if self.thread.is_alive():
            self.thread.join()
        for sock in self.socks:
            sock.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200, help="per measurement (200)")
    parser.add_argument("--cap", type=int, default=1000, help="max connections (1000)")
    args = parser.parse_args()
    print(machine())
    os.environ["FHIR_MODULE_MAX_CONNECTIONS"] = str(args.cap)
    with (
        tempfile.TemporaryDirectory(prefix="fhir-module-bench-") as tmp,
        Server(Path(tmp) / "bench.sqlite3") as server,
    ):
        url = server.base + "/cds-services"
        address = (LOOPBACK, server.port)
        print(f"server: {server.base}, open mode, at most {args.cap} connections")
        timed(url, 10)
        print(line("discovery, new connection, alone", *timed(url, args.requests)))
        with Crowd(address, args.cap, trickle=False) as crowd:
            samples, failures = timed(url, args.requests, crowd.top_up)
            print(line(f"... with {args.cap} idle connections", samples, failures))
        with Crowd(address, args.cap, trickle=True):
            samples, failures = timed(url, args.requests)
            print(line(f"... with {args.cap} slow senders", samples, failures))
    base = "https://ehr.example.org/fhir"
    checked = parse_base_url(base)
    relative = "Observation?patient=pat-4711&code=http://loinc.org|82810-3"
    link = f"{base}/Observation?patient=pat-4711&_page=2"
    for name, work in [
        ("parse_base_url(fhirServer)", lambda: parse_base_url(base)),
        ("BaseUrl.join(search)", lambda: checked.join(relative)),
        ("BaseUrl.inside(next link)", lambda: checked.inside(link)),
    ]:
        count = 20000
        seconds = min(timeit.repeat(work, number=count, repeat=3)) / count
        print(f"{name:36s} {seconds * 1e6:6.2f} us")


if __name__ == "__main__":
    main()
