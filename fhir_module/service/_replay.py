"""The jti replay cache, in the service's SQLite database so that every worker shares it
(the table `jwt_seen` of the store's schema).

Each (issuer, jti) is kept until its token expires; a jti seen again before
then is a replay. The table is bounded per issuer: expired rows are purged as
the service goes, and when an issuer holds `quota` live tokens the cache refuses
that issuer's new ones (the caller answers 401) rather than forget one and let it
be replayed. Other issuers are not affected, so one client cannot lock out the
rest by filling the cache.
"""

from __future__ import annotations

import threading
from pathlib import Path

from ._settings import DEFAULT_REPLAY_QUOTA
from ._store import Busy, connect, unavailable, writing

#: purge expired rows and recount once per this many insertions
_PURGE_EVERY = 64



class ReplayCacheFull(Exception):
    """The issuer holds `quota` unexpired tokens; no new one of its can be admitted safely."""


class ReplayCache:
    """First use of a token id, shared by the processes using the same database file.

    The per-issuer counts are read from the table at each purge and kept up to date
    with this process's own insertions in between, so with several workers an issuer
    may pass its quota by at most `_PURGE_EVERY` tokens per worker."""

    def __init__(self, path: Path, quota: int = DEFAULT_REPLAY_QUOTA) -> None:
        if quota < 1:
            raise ValueError("quota: must be at least 1")
        self._conn = connect(path)
        # A replay record lost to a power cut is worth less than an fsync per call.
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.Lock()
        self.quota = quota
        self._since_purge = _PURGE_EVERY
        self._counts: dict[str, int] = {}

    def first_use(self, issuer: str, jti: str, expires_at: float, now: float, *,
                  wait: bool = True) -> bool:
        """Record the token id; False if it is already held and unexpired (a replay).

        ReplayCacheFull when the issuer's quota is reached; StoreUnavailable when the
        database cannot take the write (the call is then refused). Without `wait`, raises Busy
        instead of waiting for another writer, and when the periodic purge of expired rows
        is due (that is for a thread to do)."""
        with unavailable(), writing(self._conn, self._lock, wait=wait):
            if self._since_purge + 1 >= _PURGE_EVERY:
                if not wait:
                    raise Busy
                self._since_purge = 0
                self._conn.execute("DELETE FROM jwt_seen WHERE expires_at < ?", (now,))
                self._counts = dict(
                    self._conn.execute(
                        "SELECT issuer, COUNT(*) FROM jwt_seen GROUP BY issuer"
                    ).fetchall()
                )
            else:
                self._since_purge += 1
            if self._counts.get(issuer, 0) >= self.quota:
                raise ReplayCacheFull()
            # An expired row for the same id is overwritten: that token is dead anyway.
            cursor = self._conn.execute(
                "INSERT INTO jwt_seen (issuer, jti, expires_at) VALUES (?, ?, ?)"
                " ON CONFLICT (issuer, jti) DO UPDATE SET expires_at = excluded.expires_at"
                " WHERE jwt_seen.expires_at < ?",
                (issuer, jti, expires_at, now),
            )
            self._counts[issuer] = self._counts.get(issuer, 0) + cursor.rowcount
            return cursor.rowcount == 1

    def close(self) -> None:
        with self._lock:
            self._conn.close()
