"""The snapshotter seam (containerd ``core/snapshots``).

A snapshot is either *active* (named by a key, writable, from ``prepare``) or *committed*
(named by a name, read-only, from ``commit``). Snapshotters return the mounts that would
present a snapshot and never perform them::

    prepare(key, parent) ─▶ active ──commit(name, key)──▶ committed ─┐
         ▲                    │                                        │ parent of
         └────────────────────┼────────────────────────────────────────┘
                           remove(key)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Protocol

from berth.oci.mount import Mount


class Kind(Enum):
    ACTIVE = "active"
    VIEW = "view"
    COMMITTED = "committed"


@dataclass(frozen=True)
class Info:
    key: str
    kind: Kind
    parent: str | None


class Snapshotter(Protocol):
    # True when ``writable_path`` holds only an active snapshot's own changes (overlay's
    # upper dir), so its tar is a layer; False when it is the whole tree (native copies).
    changes_only: bool

    def prepare(self, key: str, parent: str | None) -> list[Mount]:
        """A new writable snapshot on top of committed ``parent`` (or empty)."""
        ...

    def view(self, key: str, parent: str | None) -> list[Mount]:
        """A read-only snapshot of committed ``parent``."""
        ...

    def mounts(self, key: str) -> list[Mount]: ...

    def commit(self, name: str, key: str, parent: str | None = None) -> None:
        """Make active ``key`` the committed snapshot ``name``; ``key`` is gone after.
        ``parent``: put it on committed ``parent`` as well, for a ``key`` prepared with
        none on a ``changes_only`` snapshotter, whose own changes do not depend on what is
        below (layers of one image unpack side by side, then stack)."""
        ...

    def remove(self, key: str) -> None:
        """Remove a snapshot that no other snapshot has as parent (else Conflict)."""
        ...

    def stat(self, key: str) -> Info:
        """NotFound if there is no such snapshot."""
        ...

    def usage(self, key: str) -> int:
        """Bytes used by the snapshot's own layer (not its parents)."""
        ...

    def walk(self) -> list[Info]:
        """Every snapshot, parents before children."""
        ...

    def cleanup(self) -> None:
        """Remove what a crash left that no snapshot names."""
        ...

    def writable_path(self, key: str) -> str:
        """Host directory that holds an active snapshot's own changes (apply a layer here
        before commit; diff it to make a layer)."""
        ...
