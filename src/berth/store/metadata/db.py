"""The metadata database: one SQLite file in WAL mode under the data root.

Every state change is one transaction, so a crash (kill -9 at any point) leaves the
previous or the next consistent state. Each store module (images, containers, ...) owns its
tables and creates them with ``ensure_schema``. Calls are synchronous; the engine reaches
them through ``asyncio.to_thread``, so one lock serializes the shared connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from berth.errors import BerthError


class Database:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._conn = sqlite3.connect(
                path, check_same_thread=False, isolation_level=None, timeout=30
            )
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.execute("PRAGMA foreign_keys=ON")
        except sqlite3.Error as err:
            raise BerthError(f"cannot open metadata database {path}: {err}") from err
        self._conn.row_factory = sqlite3.Row
        self._lock = threading.RLock()

    def ensure_schema(self, statements: list[str]) -> None:
        with self.transaction() as cur:
            for stmt in statements:
                cur.execute(stmt)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """One atomic transaction (BEGIN IMMEDIATE ... COMMIT, ROLLBACK on error)."""
        with self._lock:
            cur = self._conn.cursor()
            try:
                cur.execute("BEGIN IMMEDIATE")
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            finally:
                cur.close()

    def query(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as err:
                raise BerthError(f"metadata query failed: {err}") from err

    def close(self) -> None:
        with self._lock:
            self._conn.close()
