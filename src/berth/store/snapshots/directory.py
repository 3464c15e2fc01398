"""What the directory-backed snapshotters (overlay, native) share: every operation is the
snapshot storage's; a subclass says only how a new snapshot is filled (``_populate``) and
how a snapshot is presented as mounts (``_mounts``)."""

from __future__ import annotations

from pathlib import Path

from berth.errors import InvalidArgument
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

    def commit(self, name: str, key: str, parent: str | None = None) -> None:
        record = self.storage.get(key)
        if parent is not None and not self.changes_only:
            raise InvalidArgument(f"snapshot {key}: a whole tree cannot take a parent")
        self.storage.commit(name, key, disk_usage(self.storage.fs(record)), parent)

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
