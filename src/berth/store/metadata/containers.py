"""Container records: one row per container, its document serialized by the engine.

The name is a UNIQUE column, so two concurrent creates of one name cannot both win.
"""

from __future__ import annotations

import sqlite3

from berth.errors import Conflict, NotFound
from berth.store.metadata.db import Database

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS containers (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        document TEXT NOT NULL
    )""",
]


class ContainerRecords:
    def __init__(self, db: Database) -> None:
        self._db = db
        db.ensure_schema(_SCHEMA)

    def insert(self, container_id: str, name: str, document: str) -> None:
        try:
            with self._db.transaction() as cur:
                cur.execute("INSERT INTO containers (id, name, document) VALUES (?, ?, ?)",
                            (container_id, name, document))
        except sqlite3.IntegrityError as err:
            raise Conflict(f"container name {name!r} is already in use") from err

    def update(self, container_id: str, name: str, document: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("UPDATE containers SET name = ?, document = ? WHERE id = ?",
                        (name, document, container_id))
            if cur.rowcount == 0:
                raise NotFound(f"No such container: {container_id}")

    def delete(self, container_id: str) -> None:
        with self._db.transaction() as cur:
            cur.execute("DELETE FROM containers WHERE id = ?", (container_id,))

    def all(self) -> list[str]:
        return [row["document"] for row in self._db.query("SELECT document FROM containers")]
