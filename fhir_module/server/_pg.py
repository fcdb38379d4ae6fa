"""The PostgreSQL implementation of the store: one database shared by several replicas.

psycopg 3 with its connection pool; every statement runs in a worker thread, never on
the event loop. The schema is created and migrated at start under an advisory
lock, so replicas starting together migrate it once. Feedback is committed with
`synchronous_commit` on (flushed to disk, and to synchronous standbys if any, before
the 200); the audit (sent in one round trip, pipelined) and the replay cache commit with
it off: they survive a crash of
a replica, and a crash of the database server may take their last fraction of a second.
Uniqueness is the database's: one feedback item is stored once whichever replica gets
it, and a jti is admitted by one atomic INSERT ... ON CONFLICT, so one replica's token
is a replay for every other.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
import psycopg_pool
from psycopg import errors

from ..errors import StoreUnavailable
from ._store import StoreClosed, Transaction

log = logging.getLogger("fhir_module.service.store")

#: connections per pool (each worker process has two: the store's and the replay cache's)
POOL_SIZE = 8
#: seconds a request waits for a pooled connection, and to open the first one
POOL_TIMEOUT_SECONDS = 10.0
#: any fixed number: the advisory lock that serialises schema migrations across replicas
MIGRATION_LOCK = 7_303_117

#: the schema in numbered steps, as for SQLite; step 1 is the whole schema of the
#: SQLite steps 1 to 4 (no PostgreSQL database predates them)
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE IF NOT EXISTS hook_call ("
        " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, hook_instance TEXT NOT NULL,"
        " service_id TEXT NOT NULL, hook TEXT NOT NULL, patient_hash TEXT NOT NULL,"
        " card_count INTEGER NOT NULL, called_at TEXT NOT NULL)",
        "CREATE INDEX IF NOT EXISTS hook_call_age ON hook_call (called_at)",
        "CREATE TABLE IF NOT EXISTS card_shown ("
        " card_uuid TEXT PRIMARY KEY, call_id BIGINT NOT NULL REFERENCES hook_call (id),"
        " rule_id TEXT, indicator TEXT, suggestions TEXT, reasons TEXT)",
        "CREATE INDEX IF NOT EXISTS card_shown_rule ON card_shown (rule_id)",
        "CREATE INDEX IF NOT EXISTS card_shown_call ON card_shown (call_id)",
        "CREATE TABLE IF NOT EXISTS feedback ("
        " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, service_id TEXT NOT NULL,"
        " card_uuid TEXT NOT NULL, outcome TEXT NOT NULL, outcome_timestamp TEXT NOT NULL,"
        " accepted_suggestions TEXT NOT NULL, reason_system TEXT, reason_code TEXT,"
        " reason_display TEXT, user_comment TEXT, known_card INTEGER NOT NULL,"
        " received_at TEXT NOT NULL, comment_length INTEGER, apart TEXT,"
        " UNIQUE (service_id, card_uuid, outcome, outcome_timestamp))",
        "CREATE INDEX IF NOT EXISTS feedback_age ON feedback (received_at)",
        "CREATE TABLE IF NOT EXISTS jwt_seen ("
        " issuer TEXT NOT NULL, jti TEXT NOT NULL, expires_at DOUBLE PRECISION NOT NULL,"
        " PRIMARY KEY (issuer, jti))",
        "CREATE INDEX IF NOT EXISTS jwt_seen_expiry ON jwt_seen (expires_at)",
        "CREATE TABLE IF NOT EXISTS feedback_rate ("
        " client TEXT NOT NULL, minute BIGINT NOT NULL, items INTEGER NOT NULL,"
        " PRIMARY KEY (client, minute))",
    ),
)
MIGRATIONS += (
    (
        # As SQLite's step 5: the drug (the PlanDefinition's canonical URL and version) beside
        # the rule; cards audited before have '' (unknown), their feedback what its card has.
        "ALTER TABLE card_shown ADD COLUMN IF NOT EXISTS plan_url TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE card_shown ADD COLUMN IF NOT EXISTS plan_version TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE feedback ADD COLUMN IF NOT EXISTS plan_url TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE feedback ADD COLUMN IF NOT EXISTS plan_version TEXT NOT NULL DEFAULT ''",
        "UPDATE feedback f SET plan_url = c.plan_url, plan_version = c.plan_version"
        " FROM card_shown c WHERE c.card_uuid = f.card_uuid AND f.known_card = 1",
        "CREATE INDEX IF NOT EXISTS card_shown_plan_rule ON card_shown (plan_url, rule_id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)

_PLACEHOLDER = re.compile(r"\?")
#: what a database that cannot take a write now raises (full, read-only, gone, too slow)
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    psycopg.OperationalError,
    errors.ReadOnlySqlTransaction,
    errors.InsufficientResources,
    psycopg_pool.PoolTimeout,
)


def _sql(statement: str) -> str:
    """The store's SQL (`?` placeholders, no literal `?` or `%`) for psycopg (`%s`)."""
    return _PLACEHOLDER.sub("%s", statement)


class _Transaction:
    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self._conn = conn

    def execute(self, sql: str, params: Sequence[Any] = (), /) -> Any:
        return self._conn.execute(_sql(sql), params)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any:
        cursor = self._conn.cursor()
        cursor.executemany(_sql(sql), rows)
        return cursor


def _name(exc: BaseException) -> str:
    state = getattr(exc, "sqlstate", None)
    return f"{type(exc).__name__} ({state})" if state else type(exc).__name__


class PostgresDatabase:
    """A pool of connections to one PostgreSQL database, its schema migrated."""

    name = "postgresql"
    # The session's last value of a sequence: hook_call's identity (card_shown has none).
    last_call_id = "lastval()"

    def __init__(self, url: str, *, pool_size: int = POOL_SIZE) -> None:
        self.url = url
        self._pool: psycopg_pool.ConnectionPool[Any] = psycopg_pool.ConnectionPool(
            url,
            # The audit and the replay cache need no flush to disk; feedback turns it on.
            kwargs={"options": "-c synchronous_commit=off"},
            min_size=1,
            max_size=pool_size,
            timeout=POOL_TIMEOUT_SECONDS,
            open=False,
            name="fhir-module",
        )
        try:
            self._pool.open(wait=True, timeout=POOL_TIMEOUT_SECONDS)
            self._migrate()
        except (psycopg.Error, psycopg_pool.PoolTimeout) as exc:
            # e.g. no such database, or a user that may not create the tables
            self._pool.close()
            raise StoreUnavailable(_name(exc)) from None
        except BaseException:
            self._pool.close()
            raise

    def _migrate(self) -> None:
        with self._pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            row = conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
            done = int(row[0]) if row else 0
            if done > SCHEMA_VERSION:
                raise StoreUnavailable(
                    f"the database's schema ({done}) is newer than this version knows"
                )
            for step in MIGRATIONS[done:]:
                for statement in step:
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('schema', %s) ON CONFLICT (name)"
                " DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )

    @contextmanager
    def transaction(self, role: str) -> Iterator[Transaction]:
        if self._pool.closed:
            raise StoreClosed()
        try:
            with self._pool.connection() as conn:
                if role == "audit":
                    # Nothing is read back: the whole transaction goes in one round trip.
                    with conn.pipeline(), conn.transaction():
                        yield _Transaction(conn)
                    return
                with conn.transaction():
                    if role == "feedback":
                        conn.execute("SET LOCAL synchronous_commit TO ON")
                    yield _Transaction(conn)
        except _UNAVAILABLE as exc:
            raise StoreUnavailable(_name(exc)) from None
        except psycopg_pool.PoolClosed:
            raise StoreClosed() from None

    def close(self) -> None:
        self._pool.close()


def read_rows(url: str, queries: Sequence[tuple[str, Sequence[Any]]]) -> list[list[Any]]:
    """The rows of each query, in one read-only transaction (for feedback-report)."""
    with psycopg.connect(url, connect_timeout=int(POOL_TIMEOUT_SECONDS)) as conn:
        conn.read_only = True
        with conn.transaction():
            return [conn.execute(_sql(q), p).fetchall() for q, p in queries]
