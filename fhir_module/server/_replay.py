"""The jti replay cache, in the service's database (the table `jwt_seen`), so that every
worker, and on PostgreSQL every replica, shares it.

Each (issuer, jti) is kept until its token expires; a jti seen again before
then is a replay. The table is bounded per issuer: expired rows are purged as
the service goes, and when an issuer holds `quota` live tokens the cache refuses
that issuer's new ones (the caller answers 401) rather than forget one and let it
be replayed. Other issuers are not affected, so one client cannot lock out the
rest by filling the cache.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

from ..errors import ReplayCacheFull
from ._settings import DEFAULT_REPLAY_QUOTA
from ._store import Database, SQLiteDatabase, open_database

#: purge expired rows and recount once per this many insertions
_PURGE_EVERY = 64


class ReplayCache:
    """First use of a token id, shared by the processes using the same database file.

    The per-issuer counts are read from the table at each purge and kept up to date
    with this process's own insertions in between, so with several workers an issuer
    may pass its quota by at most `_PURGE_EVERY` tokens per worker."""

    def __init__(self, target: Path | str | Database, quota: int = DEFAULT_REPLAY_QUOTA) -> None:
        if quota < 1:
            raise ValueError("quota: must be at least 1")
        self._owns = isinstance(target, Path | str)
        # The "replay" role: a record lost to a power cut is worth less than a flush per call.
        self.db: Database = open_database(target) if isinstance(target, Path | str) else target
        self._lock = threading.Lock()  # this process's counts
        self.quota = quota
        self._since_purge = _PURGE_EVERY
        self._counts: dict[str, int] = {}

    def first_use(self, issuer: str, jti: str, expires_at: float, now: float) -> bool:
        """Record the token id; False if it is already held and unexpired (a replay).

        ReplayCacheFull when the issuer's quota is reached; StoreUnavailable when the
        database cannot take the write (the call is then refused)."""
        with self._lock:  # this process's counts, updated by several threads
            if self._since_purge + 1 >= _PURGE_EVERY:
                # Its own transaction: a call then refused (ReplayCacheFull) keeps the purge.
                with self.db.transaction("replay") as tx:
                    tx.execute("DELETE FROM jwt_seen WHERE expires_at < ?", (now,))
                    counts = tx.execute("SELECT issuer, COUNT(*) FROM jwt_seen GROUP BY issuer")
                    self._counts = {row[0]: row[1] for row in counts.fetchall()}
                self._since_purge = 0
            else:
                self._since_purge += 1
            with self.db.transaction("replay") as tx:
                if self._counts.get(issuer, 0) >= self.quota:
                    raise ReplayCacheFull(issuer, self.quota)
                # An expired row for the same id is overwritten: that token is dead anyway. One
                # atomic statement: of two workers or replicas racing on one jti, one wins.
                cursor = tx.execute(
                    "INSERT INTO jwt_seen (issuer, jti, expires_at) VALUES (?, ?, ?)"
                    " ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at"
                    " WHERE jwt_seen.expires_at < ?",
                    (issuer, jti, expires_at, now),
                )
                self._counts[issuer] = self._counts.get(issuer, 0) + cursor.rowcount
                return bool(cursor.rowcount == 1)

    @property
    def _conn(self) -> sqlite3.Connection:
        """SQLite: the replay cache's connection."""
        assert isinstance(self.db, SQLiteDatabase)
        return self.db.connection("replay")

    def close(self) -> None:
        if self._owns:
            self.db.close()
