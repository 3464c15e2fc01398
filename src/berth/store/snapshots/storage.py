"""Snapshot metadata and directories shared by the directory-based snapshotters
(containerd ``snapshots/storage``).

On-disk layout under a snapshotter root::

    <root>/metadata.db           SQLite: id, key (active) or name (committed), kind, parent
    <root>/snapshots/<id>/fs     the snapshot's own files (overlay: its upper dir)
    <root>/snapshots/<id>/work   overlay work dir (overlay only)
    <root>/snapshots/new-*       being created; rm-* being removed (crash leftovers)

Ids are small integers so that overlay ``lowerdir`` strings stay short. Every change is one
transaction; a directory is renamed into place inside the transaction before COMMIT and
renamed away inside the removing transaction, so a crash leaves at most a directory that no
row names, which ``cleanup`` deletes.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import sqlite3
import stat
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from berth.errors import Conflict, InvalidArgument, NotFound
from berth.store.metadata.db import Database
from berth.store.snapshots import Info, Kind

log = logging.getLogger(__name__)

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS snapshots (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        key TEXT NOT NULL UNIQUE,
        kind TEXT NOT NULL,
        parent_id INTEGER REFERENCES snapshots(id),
        size INTEGER NOT NULL DEFAULT 0,
        created TEXT NOT NULL
    )""",
]


@dataclass(frozen=True)
class Record:
    id: int
    key: str
    kind: Kind
    parent_id: int | None
    parent: str | None
    size: int

    def info(self) -> Info:
        return Info(key=self.key, kind=self.kind, parent=self.parent)


_SELECT = """SELECT s.id, s.key, s.kind, s.parent_id, p.key AS parent, s.size
             FROM snapshots s LEFT JOIN snapshots p ON p.id = s.parent_id"""


def _record(row: sqlite3.Row) -> Record:
    return Record(id=row["id"], key=row["key"], kind=Kind(row["kind"]),
                  parent_id=row["parent_id"], parent=row["parent"], size=row["size"])


def disk_usage(path: Path) -> int:
    """The size of the files under ``path`` as docker counts a layer's or a container's
    (moby ``pkg/directory.Size``, what ``images``, ``history`` and ``ps -s`` show): the
    apparent size of each non-directory, each inode once; directories count nothing."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for dirpath, dirnames, filenames in os.walk(path):
        for name in dirnames + filenames:  # dirnames: symlinks to directories too
            st = os.lstat(os.path.join(dirpath, name))
            if st.st_size and not stat.S_ISDIR(st.st_mode) and \
                    (st.st_dev, st.st_ino) not in seen:
                seen.add((st.st_dev, st.st_ino))
                total += st.st_size
    return total


class SnapshotStorage:
    def __init__(self, root: Path, with_workdir: bool) -> None:
        self.root = root
        self.dir = root / "snapshots"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._with_workdir = with_workdir
        self.db = Database(root / "metadata.db")
        self.db.ensure_schema(_SCHEMA)

    def path(self, record: Record) -> Path:
        return self.dir / str(record.id)

    def fs(self, record: Record) -> Path:
        return self.path(record) / "fs"

    def get(self, key: str) -> Record:
        rows = self.db.query(f"{_SELECT} WHERE s.key = ?", (key,))
        if not rows:
            raise NotFound(f"snapshot {key}: not found")
        return _record(rows[0])

    def chain(self, record: Record) -> list[Record]:
        """The committed ancestors of ``record``, nearest first."""
        out: list[Record] = []
        parent = record.parent
        while parent is not None:
            out.append(self.get(parent))
            parent = out[-1].parent
        return out

    def create(self, key: str, parent: str | None, kind: Kind,
               populate: Callable[[Path, Record | None], None] | None = None) -> Record:
        """Make a new active or view snapshot; ``populate(fs, parent)`` fills its dir."""
        parent_rec = self.get(parent) if parent is not None else None
        if parent_rec is not None and parent_rec.kind is not Kind.COMMITTED:
            raise InvalidArgument(f"parent snapshot {parent} is not committed")
        tmp = self.dir / f"new-{secrets.token_hex(8)}"
        try:
            tmp.mkdir()
            (tmp / "fs").mkdir(mode=0o755)
            if self._with_workdir:
                (tmp / "work").mkdir(mode=0o700)
            if populate is not None:
                populate(tmp / "fs", parent_rec)
            with self.db.transaction() as cur:
                if cur.execute("SELECT 1 FROM snapshots WHERE key = ?", (key,)).fetchone():
                    raise Conflict(f"snapshot {key}: already exists")
                cur.execute(
                    "INSERT INTO snapshots (key, kind, parent_id, created) VALUES (?, ?, ?, ?)",
                    (key, kind.value, parent_rec.id if parent_rec else None,
                     datetime.now(UTC).isoformat()),
                )
                new_id = cur.lastrowid
                os.rename(tmp, self.dir / str(new_id))
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        return self.get(key)

    def commit(self, name: str, key: str, size: int, parent: str | None = None) -> None:
        """Active ``key`` becomes committed ``name``; with ``parent``, a ``key`` that has
        none is put on committed ``parent``."""
        with self.db.transaction() as cur:
            row = _find(cur, key, Kind.ACTIVE, "snapshot")
            if cur.execute("SELECT 1 FROM snapshots WHERE key = ?", (name,)).fetchone():
                raise Conflict(f"snapshot {name}: already exists")
            parent_id = row["parent_id"]
            if parent is not None:
                if parent_id is not None:
                    raise InvalidArgument(f"snapshot {key} already has a parent")
                parent_id = _find(cur, parent, Kind.COMMITTED, "parent snapshot")["id"]
            cur.execute("UPDATE snapshots SET key = ?, kind = ?, size = ?, parent_id = ? "
                        "WHERE id = ?",
                        (name, Kind.COMMITTED.value, size, parent_id, row["id"]))

    def remove(self, key: str) -> None:
        with self.db.transaction() as cur:
            row = cur.execute("SELECT id FROM snapshots WHERE key = ?", (key,)).fetchone()
            if row is None:
                raise NotFound(f"snapshot {key}: not found")
            if cur.execute("SELECT 1 FROM snapshots WHERE parent_id = ?", (row["id"],)) \
                    .fetchone():
                raise Conflict(f"cannot remove snapshot {key}: it has children")
            cur.execute("DELETE FROM snapshots WHERE id = ?", (row["id"],))
            doomed = self.dir / f"rm-{row['id']}"
            try:
                os.rename(self.dir / str(row["id"]), doomed)
            except FileNotFoundError:
                log.warning("snapshot %s had no directory", key)
        shutil.rmtree(doomed, ignore_errors=True)

    def walk(self) -> list[Record]:
        return [_record(r) for r in self.db.query(f"{_SELECT} ORDER BY s.id")]

    def cleanup(self) -> None:
        """Remove directories that no snapshot row names (left by a crash)."""
        known = {str(r.id) for r in self.walk()}
        for entry in os.scandir(self.dir):
            if entry.name not in known:
                log.info("removing orphaned snapshot directory %s", entry.path)
                shutil.rmtree(entry.path, ignore_errors=True)

    def close(self) -> None:
        self.db.close()


def _find(cur: sqlite3.Cursor, key: str, kind: Kind, what: str) -> sqlite3.Row:
    """The row of snapshot ``key``, which must be of ``kind``."""
    row: sqlite3.Row | None = cur.execute(
        "SELECT id, kind, parent_id FROM snapshots WHERE key = ?", (key,)).fetchone()
    if row is None:
        raise NotFound(f"{what} {key}: not found")
    if row["kind"] != kind.value:
        raise InvalidArgument(f"{what} {key} is not {kind.value}")
    return row


# mount fstype → the name docker shows as "Backing Filesystem" (moby's fsmagic names).
_DOCKER_FS_NAMES = {"ext2": "extfs", "ext3": "extfs", "ext4": "extfs", "overlay": "overlayfs"}


def backing_filesystem(path: Path) -> str:
    """The type of the filesystem ``path`` is on (the mount with the longest matching
    mount point in /proc/self/mountinfo), named as docker names it."""
    target = os.path.realpath(path)
    best, fstype = "", "unknown"
    try:
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return fstype
    for line in lines:
        fields = line.split()
        sep = fields.index("-")
        point = fields[4].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, fstype = point, fields[sep + 1]
    return _DOCKER_FS_NAMES.get(fstype, fstype)
