"""Volume records: one row per volume, its document serialized by the engine.

    volumes   name PRIMARY KEY, driver, document      one row per volume (named or
                                                      anonymous), from create to remove

The name is the key, so two concurrent creates of one name cannot both insert: the loser
reads the winner's row (docker's create is idempotent by name). Which containers use a
volume is not stored here: it is derived from the container records (their specs), so
it can never disagree with them.
"""

from __future__ import annotations

import sqlite3

from berth.store.metadata.db import Database

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS volumes (
        name TEXT PRIMARY KEY,
        driver TEXT NOT NULL,
        document TEXT NOT NULL
    )""",
]


class VolumeRecords:
    def __init__(self, db: Database) -> None:
        self._db = db
        db.ensure_schema(_SCHEMA)

    def insert(self, name: str, driver: str, document: str) -> str:
        """Insert the volume unless one of that name exists; the document now stored
        (the existing one if the name was taken)."""
        try:
            with self._db.transaction() as cur:
                cur.execute("INSERT INTO volumes (name, driver, document) VALUES (?, ?, ?)",
                            (name, driver, document))
        except sqlite3.IntegrityError:
            found = self.get(name)
            if found is None:  # removed meanwhile: try once more
                return self.insert(name, driver, document)
            return found
        return document

    def get(self, name: str) -> str | None:
        rows = self._db.query("SELECT document FROM volumes WHERE name = ?", (name,))
        return rows[0]["document"] if rows else None

    def delete(self, name: str) -> bool:
        """Whether a row went."""
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM volumes WHERE name = ?", (name,))
            return cur.rowcount > 0

    def all(self) -> list[str]:
        return [r["document"] for r in self._db.query(
            "SELECT document FROM volumes ORDER BY name")]
