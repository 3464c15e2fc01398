"""The overlayfs snapshotter (containerd ``snapshots/overlay``).

Each snapshot owns ``snapshots/<id>/fs``; an active snapshot on committed parents is::

    overlay  lowerdir=<parent fs>:<grandparent fs>:...   nearest first, read-only
             upperdir=<own fs>                            the only per-container copy
             workdir=<own work>

An active snapshot with no parent is a read-write bind of its ``fs``; a view (or a committed
snapshot) of a single layer is a read-only bind, of several a lowerdir-only overlay.

The kernel copies mount data into one page, so the whole option string must fit in 4095
bytes. With ``/var/lib/berth/snapshots/overlay/snapshots/<id>/fs`` (about 46 bytes a
layer) that is roughly 85 layers; numeric ids keep the paths this short. Deeper images need
relative lowerdirs mounted from inside the snapshots dir (not done yet).
"""

from __future__ import annotations

from berth.errors import BerthError
from berth.oci.mount import Mount
from berth.store.snapshots import Kind
from berth.store.snapshots.directory import DirectorySnapshotter
from berth.store.snapshots.storage import Record, SnapshotStorage

MOUNT_DATA_MAX = 4095


class OverlaySnapshotter(DirectorySnapshotter):
    with_workdir = True
    changes_only = True

    def _mounts(self, record: Record) -> list[Mount]:
        parents = self.storage.chain(record)
        own = str(self.storage.fs(record))
        if record.kind is Kind.ACTIVE:
            if not parents:
                return [Mount("bind", own, ("rbind", "rw"))]
            return [_overlay(
                _lowerdir(self.storage, parents),
                f"upperdir={own}",
                f"workdir={self.storage.path(record) / 'work'}",
            )]
        lowers = parents if record.kind is Kind.VIEW else [record, *parents]
        if not lowers:
            return [Mount("bind", own, ("rbind", "ro"))]
        if len(lowers) == 1:
            return [Mount("bind", str(self.storage.fs(lowers[0])), ("rbind", "ro"))]
        return [_overlay(_lowerdir(self.storage, lowers))]


def _lowerdir(storage: SnapshotStorage, records: list[Record]) -> str:
    return "lowerdir=" + ":".join(str(storage.fs(r)) for r in records)


def _overlay(*options: str) -> Mount:
    data = ",".join(options)
    if len(data) > MOUNT_DATA_MAX:
        raise BerthError(
            f"overlay mount options are {len(data)} bytes, over the kernel's "
            f"{MOUNT_DATA_MAX}-byte limit: too many layers for this data root path"
        )
    return Mount("overlay", "overlay", options)
