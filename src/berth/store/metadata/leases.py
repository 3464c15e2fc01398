"""Leases (containerd's ``leases``): blobs that garbage collection must keep although no
image references them yet, because a pull is fetching them::

    leases  (lease, digest, expires)    one row per blob a lease holds; ``lease`` is the
                                        pull's reference (``localhost:5000/app:1``)

A pull takes its lease on the config and every layer before it fetches them, and drops it
once the image is recorded. A pull that fails or whose daemon is killed leaves the lease
behind, so an ``rmi`` or ``image prune`` before the retry does not delete the blobs it had
finished; the retry renews the lease. A lease nobody renews expires (``LEASE_TTL``) and
stops protecting anything; expired rows are deleted when the held set is next read.
"""

from __future__ import annotations

import time
from collections.abc import Iterable

from berth.store.metadata.db import Database

LEASE_TTL = 24 * 3600.0  # seconds, as long as a resumable ingest is kept

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS leases (
        lease TEXT NOT NULL,
        digest TEXT NOT NULL,
        expires REAL NOT NULL,
        PRIMARY KEY (lease, digest)
    )""",
]


class Leases:
    def __init__(self, db: Database) -> None:
        self._db = db
        db.ensure_schema(_SCHEMA)

    def take(self, lease: str, digests: Iterable[str], ttl: float = LEASE_TTL) -> None:
        """Hold ``digests`` under ``lease`` (replacing what it held) for ``ttl`` seconds."""
        expires = time.time() + ttl
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM leases WHERE lease = ?", (lease,))
            cur.executemany("INSERT OR IGNORE INTO leases (lease, digest, expires) "
                            "VALUES (?, ?, ?)", [(lease, d, expires) for d in digests])

    def release(self, lease: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM leases WHERE lease = ?", (lease,))

    def held(self) -> set[str]:
        """The digests some unexpired lease holds; expired leases are dropped."""
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM leases WHERE expires <= ?", (time.time(),))
            rows = cur.execute("SELECT DISTINCT digest FROM leases").fetchall()
        return {str(r[0]) for r in rows}

    def leases(self) -> list[str]:
        return [str(r["lease"]) for r in
                self._db.query("SELECT DISTINCT lease FROM leases ORDER BY lease")]
