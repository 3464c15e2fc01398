"""The values of a COPY/ADD step: what was asked (:class:`CopySpec`) and what will be
written (:class:`CopyPlan`, made by :func:`berth.engine.builder.copy.plan_copy`)."""

from __future__ import annotations

import enum
import shutil
import weakref
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CopySpec:
    """One COPY/ADD after variable expansion; ``heredocs`` are (name, body) pairs."""

    sources: tuple[str, ...]
    dest: str
    workdir: str = "/"
    chown: str | None = None
    chmod: str | None = None
    add: bool = False
    checksum: str | None = None
    heredocs: tuple[tuple[str, bytes], ...] = ()


class Kind(enum.Enum):
    DIR = "dir"
    FILE = "file"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"  # a second name of a file earlier in the same copy
    FIFO = "fifo"


class ItemKind(enum.Enum):
    TREE = "tree"  # a directory source: its contents go into the destination
    FILE = "file"  # one file (local, heredoc or downloaded)
    ARCHIVE = "archive"  # ADD of a local tar: extracted into the destination


@dataclass(frozen=True)
class Entry:
    """One node to write, ``rel`` to the item's destination ("" for a single file)."""

    rel: str
    kind: Kind
    mode: int  # permission bits
    mtime: float
    host: Path | None = None  # where a FILE's (or an ARCHIVE's) bytes are
    data: bytes | None = None  # a heredoc's bytes
    link: str = ""  # a SYMLINK's target
    group: int | None = None  # hardlink group: FILE and HARDLINK entries sharing an inode


@dataclass(frozen=True)
class CopyItem:
    source: str  # as written in the Dockerfile
    name: str  # its name under a directory destination
    kind: ItemKind
    entries: tuple[Entry, ...]


class CopyPlan:
    """What one COPY/ADD step writes. ``close()`` removes downloaded files (also done
    when the plan is garbage-collected)."""

    def __init__(self, keyword: str, spec: CopySpec, dest: str, dest_is_dir: bool,
                 chmod: int | None, items: tuple[CopyItem, ...], scratch: Path | None) -> None:
        self.keyword = keyword
        self.spec = spec
        self.dest = dest  # absolute, cleaned
        self.dest_is_dir = dest_is_dir
        self.chmod = chmod
        self.items = items
        self.scratch = scratch
        self._finalizer = weakref.finalize(self, shutil.rmtree, str(scratch), True) \
            if scratch is not None else None

    def close(self) -> None:
        if self._finalizer is not None:
            self._finalizer()

    def __enter__(self) -> CopyPlan:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
