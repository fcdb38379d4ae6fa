"""The service's records: the audit of hook calls, the feedback on cards, the replay cache.

One store interface (`Database`), two implementations: a SQLite file (here, the
default, for one machine) and PostgreSQL (`_pg`, shared by several replicas).

The audit holds no patient data and no tokens: the patient id only as an
HMAC-SHA256 under the settings' key (from the environment or a key file, never
in the database), the cards only as uuid, drug (the PlanDefinition's canonical URL and
version), rule id and indicator. The database
and key files are made with mode 0600. Every write is committed before the
service answers (WAL mode).
Feedback is committed with synchronous=FULL: once acknowledged it survives a
crash of the service and of the machine. The audit of hook calls is committed
with synchronous=NORMAL, which skips the disk flush: it survives a crash or
kill of the service, but a power loss may take the last moments of audit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

from ..errors import FhirModuleError, StoreUnavailable, TooMuchFeedback
from ..hooks import Feedback

log = logging.getLogger("fhir_module.service.store")
#: what the key check in the meta table is the HMAC of (it tells keys apart, reveals none)
KEY_CHECK_LABEL = b"fhir-module audit key check"


class KeyFileError(FhirModuleError, OSError):
    """The audit key file cannot be read or made, or others may read it; one line."""


def default_key_file(db_path: Path) -> Path:
    """Where the audit key is kept when no key or key file is given: beside the database,
    never in it (a copy of the audit alone does not let anyone test patient ids)."""
    return db_path.with_name(db_path.name + ".key")


def read_or_create_key(key_file: Path, initial: bytes | None = None) -> bytes:
    """The key in `key_file` (64 hex digits, or at least 16 bytes of text); when the file is
    missing, it is made with mode 0600 holding `initial`, else a new random key. Workers
    starting together all read the first key written."""
    try:
        return _read_key(key_file)
    except FileNotFoundError:
        pass
    key = initial if initial is not None else secrets.token_bytes(32)
    key_file.parent.mkdir(parents=True, exist_ok=True)
    temporary = key_file.with_name(f".{key_file.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w") as out:
            out.write(key.hex() + "\n")
            out.flush()
            os.fsync(out.fileno())
        with suppress(FileExistsError):
            os.link(temporary, key_file)  # never replaces a key another worker made first
    finally:
        temporary.unlink(missing_ok=True)
    return _read_key(key_file)


def _read_key(key_file: Path) -> bytes:
    try:
        mode = key_file.stat().st_mode
    except FileNotFoundError:
        raise
    except OSError as exc:  # e.g. a folder it cannot enter
        raise KeyFileError(f"audit key file {key_file}: {exc.strerror}") from None
    if mode & 0o077:
        raise KeyFileError(f"audit key file {key_file}: others may read it (chmod 600 it)")
    try:
        text = key_file.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        problem = f"cannot be read ({type(exc).__name__})"
        raise KeyFileError(f"audit key file {key_file}: {problem}") from None
    try:
        key = bytes.fromhex(text) if len(text) == 64 else text.encode("utf-8")
    except ValueError:
        key = text.encode("utf-8")
    if len(key) < 16:
        raise KeyFileError(f"audit key file {key_file}: the key must be at least 16 bytes")
    return key


#: The schema, as numbered steps: a database records the last step applied (meta 'schema')
#: and each start applies the steps it lacks, in one write transaction, so workers starting
#: together migrate it once. Step 1 is the first schema; later steps only add.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL)",
        """CREATE TABLE IF NOT EXISTS hook_call (
            id            INTEGER PRIMARY KEY,
            hook_instance TEXT NOT NULL,
            service_id    TEXT NOT NULL,
            hook          TEXT NOT NULL,
            patient_hash  TEXT NOT NULL,
            card_count    INTEGER NOT NULL,
            called_at     TEXT NOT NULL
        )""",
        """CREATE TABLE IF NOT EXISTS card_shown (
            card_uuid TEXT PRIMARY KEY,
            call_id   INTEGER NOT NULL REFERENCES hook_call (id),
            rule_id   TEXT,
            indicator TEXT
        )""",
        "CREATE INDEX IF NOT EXISTS card_shown_rule ON card_shown (rule_id)",
        """CREATE TABLE IF NOT EXISTS feedback (
            id                   INTEGER PRIMARY KEY,
            service_id           TEXT NOT NULL,
            card_uuid            TEXT NOT NULL,
            outcome              TEXT NOT NULL,
            outcome_timestamp    TEXT NOT NULL,
            accepted_suggestions TEXT NOT NULL,
            reason_system        TEXT,
            reason_code          TEXT,
            reason_display       TEXT,
            user_comment         TEXT,
            known_card           INTEGER NOT NULL,
            received_at          TEXT NOT NULL,
            UNIQUE (service_id, card_uuid, outcome, outcome_timestamp)
        )""",
        """CREATE TABLE IF NOT EXISTS jwt_seen (
            issuer     TEXT NOT NULL,
            jti        TEXT NOT NULL,
            expires_at REAL NOT NULL,
            PRIMARY KEY (issuer, jti)
        )""",
        "CREATE INDEX IF NOT EXISTS jwt_seen_expiry ON jwt_seen (expires_at)",
    ),
    (
        # Comments are free text and may name the patient: by default only their length is
        # kept (NULL: no comment given).
        "ALTER TABLE feedback ADD COLUMN comment_length INTEGER",
        "UPDATE feedback SET comment_length = length(user_comment) WHERE user_comment IS NOT NULL",
    ),
)
MIGRATIONS += (
    (
        # Retention deletes by age; the rate limit counts feedback items per client and minute.
        "CREATE INDEX IF NOT EXISTS hook_call_age ON hook_call (called_at)",
        "CREATE INDEX IF NOT EXISTS feedback_age ON feedback (received_at)",
        """CREATE TABLE IF NOT EXISTS feedback_rate (
            client TEXT NOT NULL,
            minute INTEGER NOT NULL,
            items  INTEGER NOT NULL,
            PRIMARY KEY (client, minute)
        )""",
    ),
)
MIGRATIONS += (
    (
        # What each card offered, so that feedback naming a suggestion or reason it did not
        # offer is kept apart (feedback.apart) from the figures a committee reads.
        "ALTER TABLE card_shown ADD COLUMN suggestions TEXT",
        "ALTER TABLE card_shown ADD COLUMN reasons TEXT",
        "ALTER TABLE feedback ADD COLUMN apart TEXT",
        "UPDATE feedback SET apart = 'unknown-card' WHERE known_card = 0",
    ),
)
MIGRATIONS += (
    (
        # The drug beside the rule: the PlanDefinition (canonical URL and version) whose rule
        # gave the card, as several drug modules share rule codes. Cards audited before have
        # '' (unknown); their feedback takes what its card has.
        "ALTER TABLE card_shown ADD COLUMN plan_url TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE card_shown ADD COLUMN plan_version TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE feedback ADD COLUMN plan_url TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE feedback ADD COLUMN plan_version TEXT NOT NULL DEFAULT ''",
        """UPDATE feedback SET (plan_url, plan_version) = (
            SELECT c.plan_url, c.plan_version FROM card_shown c
            WHERE c.card_uuid = feedback.card_uuid)
        WHERE known_card = 1
          AND EXISTS (SELECT 1 FROM card_shown c WHERE c.card_uuid = feedback.card_uuid)""",
        "CREATE INDEX IF NOT EXISTS card_shown_plan_rule ON card_shown (plan_url, rule_id)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)
#: feedback.apart: why a feedback item is not counted with its rule's figures
UNKNOWN_CARD = "unknown-card"
UNKNOWN_SUGGESTION = "unknown-suggestion"
REASON_NOT_OFFERED = "reason-not-offered"
#: seconds between two purges of rows older than the retention period
PURGE_INTERVAL_SECONDS = 3600.0


#: how long a writer waits for another connection's write lock, when it may wait
BUSY_TIMEOUT_SECONDS = 10.0


#: after a failed write, /health reports the database unavailable for this long, even if
#: its own small test write commits (a full disk may still take that one)
FAILED_WRITE_HOLD_SECONDS = 30.0


@contextmanager
def unavailable() -> Iterator[None]:
    """Turn the database's operational failures into StoreUnavailable (by type only: an
    error's text may quote the data)."""
    try:
        yield
    except (sqlite3.OperationalError, sqlite3.DatabaseError) as exc:
        if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError):
            raise
        raise StoreUnavailable(_error_name(exc)) from None


def _error_name(exc: BaseException) -> str:
    code = getattr(exc, "sqlite_errorname", None)
    return f"{type(exc).__name__} ({code})" if code else type(exc).__name__


class StoreClosed(FhirModuleError):
    """The store was closed and then used: a fault of the service (500), not of the
    database."""


@contextmanager
def writing(conn: sqlite3.Connection, lock: threading.Lock) -> Iterator[None]:
    """A write transaction under `lock` (SQLite waits BUSY_TIMEOUT_SECONDS for another
    connection's write)."""
    with lock, conn:
        yield


def _timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _private_file(path: Path) -> None:
    """Create `path` empty with mode 0600 if it is missing: SQLite then gives its -wal and
    -shm files the same mode, so only the service's user can read the records."""
    with suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _wal(conn: sqlite3.Connection) -> None:
    """Switch to WAL mode. SQLite does not wait (busy timeout) for that switch while another
    connection to a new file is switching or migrating it: try again until the timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            busy = getattr(exc, "sqlite_errorname", "") in ("SQLITE_BUSY", "SQLITE_LOCKED")
            if not busy or time.monotonic() >= deadline:
                conn.close()
                raise
            time.sleep(0.01)


def connect(path: Path, synchronous: str = "FULL") -> sqlite3.Connection:
    """A connection with the durability settings; creates or migrates the schema."""
    if synchronous not in ("FULL", "NORMAL"):
        raise ValueError(f"synchronous: FULL or NORMAL, not {synchronous!r}")
    if path.parent != Path(""):
        path.parent.mkdir(parents=True, exist_ok=True)
    _private_file(path)
    conn = sqlite3.connect(path, check_same_thread=False, timeout=BUSY_TIMEOUT_SECONDS)
    _wal(conn)
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("PRAGMA foreign_keys=ON")
    migrate(conn)
    return conn


def schema_version(conn: sqlite3.Connection) -> int:
    """The last migration step applied to the database (0: none)."""
    if conn.execute("SELECT 1 FROM sqlite_master WHERE name = 'meta'").fetchone() is None:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE name = 'schema'").fetchone()
    return int(row[0]) if row else 0


def migrate(conn: sqlite3.Connection) -> None:
    """Apply the migration steps the database lacks, all in one write transaction."""
    version = schema_version(conn)
    if version > SCHEMA_VERSION:
        conn.close()
        raise StoreUnavailable(f"the database's schema ({version}) is newer than this version's")
    if version == SCHEMA_VERSION:
        return
    level = conn.isolation_level
    conn.isolation_level = None  # explicit transaction: DDL and DML together
    try:
        conn.execute("BEGIN IMMEDIATE")  # another worker migrating waits here, then sees it done
        try:
            done = schema_version(conn)
            for step in MIGRATIONS[done:]:
                for statement in step:
                    conn.execute(statement)
            conn.execute(
                "INSERT INTO meta (name, value) VALUES ('schema', ?) ON CONFLICT (name)"
                " DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
    finally:
        conn.isolation_level = level


class Transaction(Protocol):
    """What the store's SQL runs on: `?` placeholders, one transaction."""

    def execute(self, sql: str, params: Sequence[Any] = ..., /) -> Any: ...

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]], /) -> Any: ...


class Database(Protocol):
    """The one store interface, with two implementations: SQLite (one machine, the
    default) and PostgreSQL (several replicas, `_pg`). Each migrates its schema when
    opened; `transaction` commits on leaving the block, rolls back on an exception, and
    turns the database's operational failures into StoreUnavailable.

    Roles: "feedback" is committed durably before it returns; "audit" and "replay" may
    skip the flush to disk (they survive a crash of the service, not of the machine)."""

    name: str
    #: SQL for the id of the hook_call row this transaction has just inserted
    last_call_id: str

    def transaction(self, role: str) -> AbstractContextManager[Transaction]: ...

    def close(self) -> None: ...


ROLES = ("feedback", "audit", "replay")


class SQLiteDatabase:
    """The service's SQLite file: one connection per role, each with its lock, WAL mode."""

    name = "sqlite"
    # Writes are serialised (one writer holds the file): the newest row is this one.
    last_call_id = "(SELECT MAX(id) FROM hook_call)"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._connections: dict[str, sqlite3.Connection] = {}
        self._locks = {role: threading.Lock() for role in ROLES}
        self._closed = False
        with unavailable():
            self.connection("feedback")  # creates the file (0600) and migrates it

    def connection(self, role: str) -> sqlite3.Connection:
        """The role's connection, opened on first use."""
        if self._closed:
            raise StoreClosed()
        conn = self._connections.get(role)
        if conn is None:
            with self._locks[role]:
                conn = self._connections.get(role)
                if conn is None:
                    conn = connect(self.path, "FULL" if role == "feedback" else "NORMAL")
                    self._connections[role] = conn
        return conn

    @contextmanager
    def transaction(self, role: str) -> Iterator[Transaction]:
        conn = self.connection(role)
        with unavailable(), writing(conn, self._locks[role]):
            yield conn

    def close(self) -> None:
        self._closed = True
        for role, conn in list(self._connections.items()):
            with self._locks[role]:
                conn.close()
        self._connections.clear()


def is_postgres_url(target: object) -> bool:
    """Whether a --db / FHIR_MODULE_DB value names a PostgreSQL database."""
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def describe_database(target: Path | str) -> str:
    """The database for a message: a SQLite path, or a PostgreSQL URL without its password."""
    if not is_postgres_url(target):
        return str(target)
    parts = urlsplit(str(target))
    host = parts.hostname or ""
    if parts.port:
        host += f":{parts.port}"
    user = f"{parts.username}@" if parts.username else ""
    return f"{parts.scheme}://{user}{host}{parts.path}"


def open_database(target: Path | str) -> Database:
    """The database a --db value names: a PostgreSQL URL, else a SQLite file path."""
    if is_postgres_url(target):
        from ._pg import PostgresDatabase  # psycopg is needed only for PostgreSQL

        return PostgresDatabase(str(target))
    return SQLiteDatabase(Path(target))


def _offered(card: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The card's suggestion uuids and override reasons (system, code), as JSON."""
    suggestions = card.get("suggestions")
    reasons = card.get("overrideReasons")
    return (
        json.dumps([s.get("uuid") for s in suggestions if isinstance(s, Mapping)])
        if isinstance(suggestions, list)
        else "[]",
        json.dumps([[r.get("system"), r.get("code")] for r in reasons if isinstance(r, Mapping)])
        if isinstance(reasons, list)
        else "[]",
    )


def _apart(item: Feedback, suggestions: str | None, reasons: str | None) -> str | None:
    """Why feedback on a card this service issued is kept apart, or None (it counts).
    A card audited before the service recorded what it offered (NULL) is taken on trust."""
    if item.outcome == "accepted" and suggestions is not None:
        offered = set(json.loads(suggestions))
        if any(s.id not in offered for s in item.acceptedSuggestions or []):
            return UNKNOWN_SUGGESTION
    why = item.overrideReason
    reason = why.reason if why and item.outcome == "overridden" else None
    if reason and reasons is not None and [reason.system, reason.code] not in json.loads(reasons):
        return REASON_NOT_OFFERED
    return None


class Store:
    """The service's database; safe to share between the threads of one process."""

    def __init__(
        self,
        target: Path | str | Database,
        audit_key: bytes | None = None,
        *,
        store_comments: bool = False,
        key_file: Path | None = None,
        retention_days: int | None = None,
        feedback_per_minute: int | None = None,
        clock: Callable[[], float] = time.time,
        owns_database: bool | None = None,
    ) -> None:
        """`target`: a SQLite path, a PostgreSQL URL, or an open Database (closed with the
        store when `owns_database`; a path or URL opened here always is)."""
        self.store_comments = store_comments
        self.retention_days = retention_days
        self.feedback_per_minute = feedback_per_minute
        self._clock = clock
        self._purged_at: float | None = None
        #: hook calls answered whose audit could not be written, since the start
        self.audit_failures = 0
        self._audit_failing = False
        self._feedback_failing = False
        self._failed_at: float | None = None
        self._state_lock = threading.Lock()
        self._owns = isinstance(target, Path | str) or bool(owns_database)
        self.db: Database = open_database(target) if isinstance(target, Path | str) else target
        try:
            self._key = audit_key if audit_key is not None else self._file_key(key_file)
            self._check_key()
            self.purge()
        except BaseException:
            self.close()
            raise

    @property
    def _conn(self) -> sqlite3.Connection:
        """SQLite: the feedback connection (flushed to disk before feedback is acknowledged)."""
        assert isinstance(self.db, SQLiteDatabase)
        return self.db.connection("feedback")

    @property
    def _audit(self) -> sqlite3.Connection:
        """SQLite: the audit connection (committed without a flush)."""
        assert isinstance(self.db, SQLiteDatabase)
        return self.db.connection("audit")

    def _file_key(self, key_file: Path | None) -> bytes:
        if not isinstance(self.db, SQLiteDatabase):
            # Shared by replicas on several hosts: a key made here would be this host's alone.
            if key_file is None:
                raise KeyFileError(
                    "a PostgreSQL database is shared by every replica: give them all the same "
                    "FHIR_MODULE_AUDIT_KEY or FHIR_MODULE_AUDIT_KEY_FILE"
                )
            try:
                return _read_key(key_file)
            except FileNotFoundError:
                raise KeyFileError(f"audit key file {key_file}: not found") from None
        # A database of an earlier version kept its key in the meta table: move it out, so
        # the patients hashed before keep their hashes.
        with self.db.transaction("feedback") as tx:
            row = tx.execute("SELECT value FROM meta WHERE name = 'audit_key'").fetchone()
            key = read_or_create_key(
                key_file or default_key_file(self.db.path), bytes(row[0]) if row else None
            )
            tx.execute("DELETE FROM meta WHERE name = 'audit_key'")
        return key

    def _check_key(self) -> None:
        """Record which key hashes this database's patients; when another is used, warn
        (SQLite) or refuse to start (PostgreSQL: there it is a replica set up wrong)."""
        check = hmac.new(self._key, KEY_CHECK_LABEL, hashlib.sha256).hexdigest()
        with self.db.transaction("feedback") as tx:
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('audit_key_check', ?)"
                " ON CONFLICT (name) DO NOTHING",
                (check,),
            )
            row = tx.execute("SELECT value FROM meta WHERE name = 'audit_key_check'").fetchone()
        if row[0] == check:
            return
        if not isinstance(self.db, SQLiteDatabase):
            raise KeyFileError(
                "the audit key is not the one this database was first written with: give "
                "every replica the same key"
            )
        log.warning(
            "the audit key is not the one this database was first written with: the same "
            "patient gets another hash (give every worker and replica the same key)"
        )

    def patient_hash(self, patient_id: str) -> str:
        """The keyed hash under which the audit knows a patient."""
        return hmac.new(self._key, patient_id.encode("utf-8"), hashlib.sha256).hexdigest()

    def record_call(
        self,
        *,
        hook_instance: str,
        service_id: str,
        hook: str,
        patient_id: str,
        cards: Iterable[Mapping[str, Any]],
        drugs: Mapping[str, tuple[str, str]] | None = None,
    ) -> None:
        """Audit one answered hook call: which rules of which drug showed which cards, for
        whom (hashed). `drugs` gives, by card uuid, the canonical URL and version of the
        PlanDefinition whose rule gave the card ('' for a card it leaves out)."""
        shown = []
        for card in cards:
            source = card.get("source")
            topic = source.get("topic") if isinstance(source, Mapping) else None
            rule = topic.get("code") if isinstance(topic, Mapping) else None
            uuid = str(card.get("uuid"))
            plan_url, plan_version = (drugs or {}).get(uuid, ("", ""))
            shown.append(
                (uuid, rule, card.get("indicator"), *_offered(card), plan_url, plan_version)
            )
        try:
            if self._purge_due():
                self.purge()
            with self.db.transaction("audit") as tx:
                self._write_call(tx, hook_instance, service_id, hook, patient_id, shown)
        except StoreUnavailable as exc:
            self._audit_failed(exc.cause)
            raise
        except Exception as exc:
            # Whatever stopped the write (a value the database refuses, a fault of the
            # service), the call went unaudited: /health counts it. By type only.
            self._audit_failed(type(exc).__name__)
            raise
        self._written()

    def _write_call(
        self,
        tx: Transaction,
        hook_instance: str,
        service_id: str,
        hook: str,
        patient_id: str,
        shown: Sequence[tuple[Any, ...]],
    ) -> None:
        # Nothing is read back (the cards name their call by the id just given), so the
        # transaction can go to the database in one piece.
        tx.execute(
            "INSERT INTO hook_call (hook_instance, service_id, hook, patient_hash, card_count,"
            " called_at) VALUES (?, ?, ?, ?, ?, ?)",
            (
                hook_instance,
                service_id,
                hook,
                self.patient_hash(patient_id),
                len(shown),
                _timestamp(self._clock()),
            ),
        )
        tx.executemany(
            "INSERT INTO card_shown (card_uuid, call_id, rule_id, indicator, suggestions,"
            f" reasons, plan_url, plan_version) VALUES (?, {self.db.last_call_id}, ?, ?, ?, ?,"
            " ?, ?) ON CONFLICT DO NOTHING",
            [row for row in shown if row[0]],
        )

    def record_feedback(
        self,
        service_id: str,
        items: Sequence[Feedback],
        client: str = "local",
        *,
        hook: str | None = None,
    ) -> int:
        """Store feedback items (idempotent per card, outcome and time); the number new.

        An item counts with its card's drug and rule when the card was shown by this
        service: one called `service_id`, or, given `hook`, any service of that hook (the
        same service under an id it had before). A comment is stored only with
        `store_comments`; else only its length. With `feedback_per_minute`,
        TooMuchFeedback (and nothing stored) when `client` would pass that many items in
        this minute."""
        try:
            added = self._write_feedback(service_id, items, client, hook)
        except StoreUnavailable as exc:
            self._feedback_failed(exc.cause)
            raise
        self._written()
        return added

    def _write_feedback(
        self, service_id: str, items: Sequence[Feedback], client: str, hook: str | None
    ) -> int:
        if self._purge_due():
            self.purge()
        added = 0
        with self.db.transaction("feedback") as tx:
            if self.feedback_per_minute is not None:
                (sent,) = tx.execute(
                    "INSERT INTO feedback_rate (client, minute, items) VALUES (?, ?, ?)"
                    " ON CONFLICT (client, minute)"
                    " DO UPDATE SET items = feedback_rate.items + excluded.items"
                    " RETURNING items",
                    (client, int(self._clock() // 60), len(items)),
                ).fetchone()
                if sent > self.feedback_per_minute:
                    raise TooMuchFeedback(self.feedback_per_minute)  # rolls the count back
            for item in items:
                card = tx.execute(
                    "SELECT h.service_id, c.suggestions, c.reasons, c.plan_url, c.plan_version,"
                    " h.hook FROM card_shown c JOIN hook_call h ON h.id = c.call_id"
                    " WHERE c.card_uuid = ?",
                    (item.card,),
                ).fetchone()
                known = card is not None and (
                    card[0] == service_id or (hook is not None and card[5] == hook)
                )
                plan_url, plan_version = (card[3], card[4]) if known else ("", "")
                apart = _apart(item, card[1], card[2]) if known else UNKNOWN_CARD
                # Each id once, and no more than the card carried: a caller repeating one id
                # cannot grow the row (the ids a card did not carry are kept apart).
                accepted = list(dict.fromkeys(s.id for s in item.acceptedSuggestions or []))
                if known and card[1] is not None:
                    accepted = accepted[: len(json.loads(card[1]))]
                why = item.overrideReason
                reason = why.reason if why else None
                comment = why.userComment if why else None
                cursor = tx.execute(
                    "INSERT INTO feedback (service_id, card_uuid, outcome,"
                    " outcome_timestamp, accepted_suggestions, reason_system, reason_code,"
                    " reason_display, user_comment, comment_length, known_card, received_at,"
                    " apart, plan_url, plan_version)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT DO NOTHING",
                    (
                        service_id,
                        item.card,
                        item.outcome,
                        item.outcomeTimestamp,
                        json.dumps(accepted),
                        reason.system if reason else None,
                        reason.code if reason else None,
                        reason.display if reason else None,
                        comment if self.store_comments else None,
                        len(comment) if comment is not None else None,
                        int(known),
                        _timestamp(self._clock()),
                        apart,
                        plan_url,
                        plan_version,
                    ),
                )
                added += cursor.rowcount
        return added

    def _audit_failed(self, cause: str) -> None:
        with self._state_lock:
            self.audit_failures += 1
            first = not self._audit_failing
            self._audit_failing = True
        if first:  # once, not per call: /health counts them
            log.error(
                "audit not written: %s; hook calls are still answered, and further audit "
                "failures are counted in /health until a write succeeds",
                cause,
            )
        self._write_failed(cause)

    def _feedback_failed(self, cause: str) -> None:
        with self._state_lock:
            first = not self._feedback_failing
            self._feedback_failing = True
        if first:  # once, not per post
            log.error(
                "feedback not stored: %s; it is refused with 503 until a write succeeds", cause
            )
        self._write_failed(cause)

    def _write_failed(self, cause: str) -> None:
        self._failed_at = time.monotonic()

    def _written(self) -> None:
        if self._audit_failing or self._feedback_failing:
            with self._state_lock:
                audit, self._audit_failing = self._audit_failing, False
                feedback, self._feedback_failing = self._feedback_failing, False
            if audit:
                log.warning("audit written again (%d failed so far)", self.audit_failures)
            if feedback:
                log.warning("feedback stored again")

    def health(self) -> dict[str, Any]:
        """Whether the database takes a write now (a small committed test write, and no
        failed write in the last FAILED_WRITE_HOLD_SECONDS), and the audit failures."""
        try:
            with self.db.transaction("audit") as tx:
                tx.execute(
                    "INSERT INTO meta (name, value) VALUES ('health', ?) ON CONFLICT (name)"
                    " DO UPDATE SET value = excluded.value",
                    (_timestamp(self._clock()),),
                )
            cause = None
        except StoreUnavailable as exc:
            cause = exc.cause
        recent = self._failed_at is not None and (
            time.monotonic() - self._failed_at < FAILED_WRITE_HOLD_SECONDS
        )
        return {
            "writable": cause is None and not recent,
            "auditFailures": self.audit_failures,
        }

    def _purge_due(self) -> bool:
        return self._purged_at is None or (
            self._clock() - self._purged_at >= PURGE_INTERVAL_SECONDS
        )

    def purge(self) -> None:
        """Delete audit and feedback rows older than `retention_days` (none without it), and
        the feedback counts of past minutes; done at start and then once an hour."""
        now = self._clock()
        self._purged_at = now
        with self.db.transaction("feedback") as tx:
            tx.execute("DELETE FROM feedback_rate WHERE minute < ?", (int(now // 60) - 1,))
            if self.retention_days is None:
                return
            cutoff = _timestamp(now - self.retention_days * 86400.0)
            tx.execute("DELETE FROM feedback WHERE received_at < ?", (cutoff,))
            tx.execute(
                "DELETE FROM card_shown WHERE call_id IN"
                " (SELECT id FROM hook_call WHERE called_at < ?)",
                (cutoff,),
            )
            tx.execute("DELETE FROM hook_call WHERE called_at < ?", (cutoff,))

    def close(self) -> None:
        """Close the database if this store opened it; the store is unusable afterwards."""
        if self._owns:
            self.db.close()
