"""What the benchmarks and scripts/load.py share: the example requests, requests with many
draft orders, percentiles, and a `fhir-module serve` started on loopback and stopped again.

Run nothing here; the scripts that import it print their own figures.
"""

from __future__ import annotations

import copy
import ipaddress
import json
import math
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
#: the examples' "today": their saved responses hold for this date
EXAMPLE_DAY = "2026-11-26"
LOOPBACK = "127.0.0.1"
SIGN_SERVICE = "medication-safety-order-sign"
SELECT_SERVICE = "medication-safety-order-select"


def example(name: str) -> dict[str, Any]:
    """One example request by its file name without '.request.json'."""
    document: dict[str, Any] = json.loads((EXAMPLES / f"{name}.request.json").read_text())
    return document


def example_requests() -> dict[str, dict[str, Any]]:
    """Every example CDS Hooks request, by name."""
    return {
        path.name.removesuffix(".request.json"): json.loads(path.read_text())
        for path in sorted(EXAMPLES.glob("*.request.json"))
    }


def with_drafts(request: dict[str, Any], drafts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """A copy of the request whose draftOrders are these MedicationRequests, ids made unique.

    order-select requests select every draft, so that every one is judged.
    """
    out = copy.deepcopy(request)
    entries = []
    for i, draft in enumerate(drafts):
        resource = copy.deepcopy(draft)
        resource["id"] = f"{resource.get('id', 'draft')}-{i + 1}"
        entries.append({"resource": resource})
    out["context"]["draftOrders"] = {
        "resourceType": "Bundle",
        "type": "collection",
        "entry": entries,
    }
    if out.get("hook") == "order-select":
        out["context"]["selections"] = [f"MedicationRequest/{e['resource']['id']}" for e in entries]
    return out


def drafts_of(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The draft MedicationRequests of a request."""
    return [e["resource"] for e in request["context"]["draftOrders"].get("entry", [])]


def repeated(request: dict[str, Any], count: int) -> dict[str, Any]:
    """The request with its draft orders repeated to `count` orders (distinct ids)."""
    drafts = drafts_of(request)
    return with_drafts(request, [drafts[i % len(drafts)] for i in range(count)])


def percentile(samples: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100), nearest rank: a time some sample really took."""
    ordered = sorted(samples)
    if not ordered:
        return float("nan")
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def machine() -> str:
    """CPUs, CPU model and Python version, for the figures' context."""
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs ({model}), Python {sys.version.split()[0]}"


# ----- a server on loopback


def is_loopback_host(host: str) -> bool:
    """Whether a host name or address is this machine's loopback (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on now (the server binds it a moment later)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host.strip("[]"), 0))
        port: int = s.getsockname()[1]
        return port


def serve_command() -> list[str]:
    """The `fhir-module serve` command of this environment."""
    found = shutil.which("fhir-module", path=str(Path(sys.executable).parent)) or shutil.which(
        "fhir-module"
    )
    return [found] if found else [sys.executable, "-m", "fhir_module"]


class Server:
    """`fhir-module serve` on 127.0.0.1, in its own process group: open mode, or with
    `config` the trusted clients of that file."""

    def __init__(
        self,
        db: Path | str,
        *,
        port: int | None = None,
        workers: int = 1,
        log: Path | None = None,
        host: str = LOOPBACK,
        config: Path | None = None,
    ) -> None:
        if not is_loopback_host(host):
            raise ValueError(f"{host} is not a loopback address")
        self.host = host
        self.db = db
        self.port = port or free_port(host)
        self.workers = workers
        self.log = log
        self.config = config
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        """Start it and wait until discovery answers; raise RuntimeError if it does not."""
        command = [
            *serve_command(),
            "serve",
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--db",
            str(self.db),
            "--workers",
            str(self.workers),
            *(["--config", str(self.config)] if self.config else []),
        ]
        output = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115
        try:
            # A new session: the server and its worker processes form one process group.
            self.process = subprocess.Popen(
                command, stdout=output, stderr=output, start_new_session=True
            )
        finally:
            if self.log:
                output.close()  # type: ignore[union-attr]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}")
            try:
                answer = requests.get(f"{self.base}/cds-services", timeout=1)
                # With trusted clients, an unsigned call gets 401: the server is up.
                up = answer.status_code == (401 if self.config else 200)
                if up and (self.workers == 1 or self._children_ready()):
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the server did not answer within {timeout:.0f} s")

    def _children_ready(self) -> bool:
        # With --workers N, the first worker may answer before the others have started.
        return len(self.pids()) >= self.workers + 1

    def pids(self) -> list[int]:
        """The server process and its descendants (the uvicorn workers)."""
        if self.process is None or self.process.poll() is not None:
            return []
        found, frontier = [self.process.pid], [self.process.pid]
        while frontier:
            parent = frontier.pop()
            try:
                children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                found.append(child)
                frontier.append(child)
        return found

    def rss_bytes(self) -> int:
        """Resident memory of the server and its workers, summed (VmRSS from /proc)."""
        total = 0
        for pid in self.pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) * 1024
                        break
            except OSError:
                continue
        return total

    def kill(self) -> None:
        """SIGKILL the whole process group at once, as a crash or an OOM killer would."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM the group (a graceful uvicorn shutdown), SIGKILL if it lingers."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
