"""Which registry repositories are known to hold a blob (moby's ``distribution/metadata``
v2 metadata service), so a push can mount a layer from a sibling repository of the same
registry instead of uploading it::

    blob_sources  (digest, registry, repository)    one row per place a blob was seen:
                  pulled from there, or pushed there

Rows are hints: a registry may have deleted the blob since, and a mount that fails falls
back to an upload. They are never garbage-collected with the blob, which is harmless (a
stale hint costs one refused mount) and keeps a re-pulled layer's history.
"""

from __future__ import annotations

from collections.abc import Iterable

from berth.store.metadata.db import Database

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS blob_sources (
        digest TEXT NOT NULL,
        registry TEXT NOT NULL,
        repository TEXT NOT NULL,
        PRIMARY KEY (digest, registry, repository)
    )""",
]


class BlobSources:
    def __init__(self, db: Database) -> None:
        self._db = db
        db.ensure_schema(_SCHEMA)

    def add(self, registry: str, repository: str, digests: Iterable[str]) -> None:
        with self._db.transaction() as cur:
            cur.executemany(
                "INSERT OR IGNORE INTO blob_sources (digest, registry, repository) "
                "VALUES (?, ?, ?)", [(d, registry, repository) for d in digests])

    def repositories(self, registry: str, digest: str) -> list[str]:
        """The repositories of ``registry`` known to hold ``digest``, oldest first."""
        rows = self._db.query(
            "SELECT repository FROM blob_sources WHERE digest = ? AND registry = ? "
            "ORDER BY rowid", (digest, registry))
        return [str(r["repository"]) for r in rows]

    def holding(self, registry: str, digests: Iterable[str]) -> dict[str, list[str]]:
        """``repositories`` for each of ``digests``."""
        return {d: self.repositories(registry, d) for d in digests}
