"""What the directory-backed snapshotters (overlay, native) share: every operation is the
snapshot storage's; a subclass says only how a new snapshot is filled (``_populate``) and
how a snapshot is presented as mounts (``_mounts``)."""

from __future__ import annotations

from pathlib import Path

from berth.oci.mount import Mount
from berth.store.snapshots import Info, Kind
from berth.store.snapshots.storage import Record, SnapshotStorage, disk_usage


class DirectorySnapshotter:
    with_workdir = False
    changes_only = False

    def __init__(self, root: Path) -> None:
        self.storage = SnapshotStorage(root, with_workdir=self.with_workdir)

    def prepare(self, key: str, parent: str | None) -> list[Mount]:
        return self._mounts(self.storage.create(key, parent, Kind.ACTIVE, self._populate))

    def view(self, key: str, parent: str | None) -> list[Mount]:
        return self._mounts(self.storage.create(key, parent, Kind.VIEW, self._populate))

    def mounts(self, key: str) -> list[Mount]:
        return self._mounts(self.storage.get(key))

    def commit(self, name: str, key: str) -> None:
        record = self.storage.get(key)
        self.storage.commit(name, key, disk_usage(self.storage.fs(record)))

    def remove(self, key: str) -> None:
        self.storage.remove(key)

    def stat(self, key: str) -> Info:
        return self.storage.get(key).info()

    def usage(self, key: str) -> int:
        record = self.storage.get(key)
        if record.kind is Kind.COMMITTED:
            return record.size
        return disk_usage(self.storage.fs(record))

    def writable_path(self, key: str) -> str:
        return str(self.storage.fs(self.storage.get(key)))

    def cleanup(self) -> None:
        self.storage.cleanup()

    def walk(self) -> list[Info]:
        return [r.info() for r in self.storage.walk()]

    def _populate(self, fs: Path, parent: Record | None) -> None:
        """Fill a new snapshot's own directory (nothing: overlay shows the parents)."""

    def _mounts(self, record: Record) -> list[Mount]:
        raise NotImplementedError
