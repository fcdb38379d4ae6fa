"""The jti replay cache, in the service's SQLite database so that every worker shares it.

Each (issuer, jti) is kept until its token expires; a jti seen again before
then is a replay. The table is bounded: expired rows are purged as the service
goes, and when `max_entries` live tokens are held the cache refuses more (the
caller answers 401) rather than forget one and let it be replayed.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ._store import Busy, connect, writing

DEFAULT_MAX_ENTRIES = 100_000
#: purge expired rows and recount once per this many insertions
_PURGE_EVERY = 64

SCHEMA = """
CREATE TABLE IF NOT EXISTS jwt_seen (
    issuer     TEXT NOT NULL,
    jti        TEXT NOT NULL,
    expires_at REAL NOT NULL,
    PRIMARY KEY (issuer, jti)
);
CREATE INDEX IF NOT EXISTS jwt_seen_expiry ON jwt_seen (expires_at);
"""


class ReplayCacheFull(Exception):
    """The cache holds `max_entries` unexpired tokens; no new one can be admitted safely."""


class ReplayCache:
    """First use of a token id, shared by the processes using the same database file."""

    def __init__(self, path: Path, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._conn = connect(path)
        # A replay record lost to a power cut is worth less than an fsync per call.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        with self._conn:
            self._conn.executescript(SCHEMA)
        self._lock = threading.Lock()
        self._max = max_entries
        self._since_purge = _PURGE_EVERY
        self._count = 0

    def first_use(self, issuer: str, jti: str, expires_at: float, now: float, *,
                  wait: bool = True) -> bool:
        """Record the token id; False if it is already held and unexpired (a replay).

        Without `wait`, raises Busy instead of waiting for another writer, and when the
        periodic purge of expired rows is due (that is for a thread to do)."""
        with writing(self._conn, self._lock, wait=wait):
            if self._since_purge + 1 >= _PURGE_EVERY:
                if not wait:
                    raise Busy
                self._since_purge = 0
                self._conn.execute("DELETE FROM jwt_seen WHERE expires_at < ?", (now,))
                self._count = self._conn.execute("SELECT COUNT(*) FROM jwt_seen").fetchone()[0]
            else:
                self._since_purge += 1
            if self._count >= self._max:
                raise ReplayCacheFull()
            # An expired row for the same id is overwritten: that token is dead anyway.
            cursor = self._conn.execute(
                "INSERT INTO jwt_seen (issuer, jti, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at"
                " WHERE jwt_seen.expires_at < ?",
                (issuer, jti, expires_at, now),
            )
            self._count += cursor.rowcount
            return cursor.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._conn.close()
