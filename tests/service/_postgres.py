"""A throwaway PostgreSQL cluster for the store tests: initdb and pg_ctl on a Unix socket in
a temporary folder (no TCP port), started once per test session and stopped after it.

Skips, saying why, only when no PostgreSQL binaries can be found; `.ci/run` installs them
and sets FHIR_MODULE_REQUIRE_POSTGRES=1, which makes their absence a failure.
As root, the cluster runs as the `postgres` user (initdb refuses root).
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import sqlite3
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from fhir_module.server._store import is_postgres_url

_NAMES = itertools.count()


def postgres_bin() -> Path | None:
    """The folder of initdb and pg_ctl: on PATH, else Debian's /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).parent
    versions = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return versions[-1].parent if versions else None


@dataclass
class Cluster:
    """A running cluster: `url(name)` for a database on its socket."""

    folder: Path
    port: int

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.folder}&port={self.port}"

    def new_database(self) -> str:
        import psycopg

        name = f"t{os.getpid()}_{next(_NAMES)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_owner(command: list[str], user: str | None) -> list[str]:
    return ["runuser", "-u", user, "--", *command] if user else command


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[Cluster]:
    binaries = postgres_bin()
    if binaries is None:
        if os.environ.get("FHIR_MODULE_REQUIRE_POSTGRES") == "1":  # CI: never skip
            pytest.fail("PostgreSQL binaries (initdb, pg_ctl) not found")
        pytest.skip(
            "PostgreSQL binaries (initdb, pg_ctl) not found: install Debian's postgresql "
            "package (.ci/run does) to run the store tests against PostgreSQL"
        )
    user = None
    folder = Path(tempfile.mkdtemp(prefix="fhir-module-pg-"))
    if os.geteuid() == 0:
        user = "postgres"
        try:
            owner = pwd.getpwnam(user)
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the cluster")
        os.chown(folder, owner.pw_uid, owner.pw_gid)
    data = folder / "data"
    port = 5432
    run = {"check": True, "capture_output": True, "timeout": 120}
    try:
        subprocess.run(
            _as_owner(
                [
                    str(binaries / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                ],
                user,
            ),
            **run,  # type: ignore[arg-type]
        )
        options = f"-k {folder} -c listen_addresses='' -c fsync=off -p {port}"
        subprocess.run(
            _as_owner(
                [
                    str(binaries / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(folder / "log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                user,
            ),
            **run,  # type: ignore[arg-type]
        )
    except subprocess.CalledProcessError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"the test PostgreSQL cluster did not start: {exc.stderr!r}") from None
    try:
        yield Cluster(folder, port)
    finally:
        subprocess.run(
            _as_owner([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"], user),
            capture_output=True,
            timeout=60,
        )
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_target(request: pytest.FixtureRequest, tmp_path: Path) -> Path | str:
    """A fresh, empty database of each kind: a SQLite file, a PostgreSQL URL."""
    if request.param == "sqlite":
        return tmp_path / "store.sqlite3"
    cluster: Cluster = request.getfixturevalue("postgres_cluster")
    return cluster.new_database()


def query(target: Path | str, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Rows of one query on either kind of database (`?` placeholders)."""
    if is_postgres_url(target):
        import psycopg

        with psycopg.connect(str(target)) as conn:
            return [tuple(r) for r in conn.execute(sql.replace("?", "%s"), params).fetchall()]
    conn = sqlite3.connect(target)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()
