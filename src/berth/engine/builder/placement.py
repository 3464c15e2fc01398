"""Writing a COPY/ADD plan into the new layer's upper directory.

The upper directory holds only what this step changes; ``lower`` is the stage's image so
far. Destinations are resolved through the merged view (upper over lower), so a symlink
in the image (``/bin -> usr/bin``) is followed inside the root, never out of it::

    /dest parents missing in upper      created with the lower's mode/owner/mtime
                                        (overlay's copy-up), or 0755 root:root if new
    the directory files land in, if new 0755, owned by --chown
    copied files, dirs, symlinks        the source's mode (or --chmod), owned by --chown
                                        (default root:root), mtimes kept
    hardlinks within one copy           stay hardlinks
    ADD archive                         extracted as tar (owners from the archive)

Directory metadata is applied last, deepest first, since filling a directory changes it.
Ownership needs root; without it files keep the caller's owner (unit tests).
"""

from __future__ import annotations

import bz2
import lzma
import os
import posixpath
import shutil
import stat
from pathlib import Path
from typing import BinaryIO, cast

from berth.engine.builder.copyplan import CopyItem, CopyPlan, Entry, ItemKind, Kind
from berth.engine.builder.owners import ROOT, Owner, resolve_owner
from berth.errors import InvalidArgument
from berth.store.diff import (
    OVERLAY_OPAQUE_XATTR,
    ApplyOptions,
    WhiteoutMode,
    apply_layer,
    remove_path,
)
from berth.store.rootview import LayerTree, split

_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"


def place(plan: CopyPlan, upper: Path, lower: LayerTree) -> None:
    _Placer(plan, upper, lower).run()


class _Placer:
    def __init__(self, plan: CopyPlan, upper: Path, lower: LayerTree) -> None:
        self.plan = plan
        self.upper = str(upper)
        self.merged = LayerTree([upper, *lower.dirs], whiteouts=lower.whiteouts)
        self.owner = resolve_owner(plan.spec.chown, lower)
        self.is_root = os.geteuid() == 0
        self.links: dict[int, str] = {}
        self.dirs: list[tuple[str, int, Owner, float]] = []

    def run(self) -> None:
        many = len(self.plan.items) > 1
        for item in self.plan.items:
            if item.kind is ItemKind.FILE:
                self._file(item, many)
                continue
            target = self.ensure_dir(self.plan.dest, self.owner)
            if item.kind is ItemKind.TREE:
                self._tree(item, target)
            else:
                self._extract(item.entries[0], target)
        for path, mode, owner, mtime in reversed(self.dirs):
            self._metadata(path, mode, owner, mtime)

    # -- directories -----------------------------------------------------------------

    def ensure_dir(self, container_path: str, owner: Owner) -> str:
        """The upper's directory for ``container_path`` (symlinks followed in the merged
        view), creating what is missing; a new last component is owned by ``owner``."""
        parts = split(self.merged.resolve(container_path))
        host = self.upper
        for depth, name in enumerate(parts):
            host = os.path.join(host, name)
            try:
                in_upper: os.stat_result | None = os.lstat(host)
            except FileNotFoundError:
                in_upper = None
            if in_upper is not None and stat.S_ISDIR(in_upper.st_mode):
                continue
            rel = "/".join(parts[: depth + 1])
            try:
                merged: os.stat_result | None = self.merged.lstat(rel)
            except FileNotFoundError:
                merged = None
            if merged is not None and not stat.S_ISDIR(merged.st_mode):
                raise InvalidArgument(f"{self.plan.keyword} failed: cannot copy to "
                                      f"non-directory: /{rel}")
            if in_upper is not None:  # a whiteout: the lower's entry is deleted
                remove_path(host)
            os.mkdir(host, 0o700)
            if merged is not None:
                self.dirs.append((host, stat.S_IMODE(merged.st_mode),
                                  Owner(merged.st_uid, merged.st_gid), merged.st_mtime))
                continue
            if in_upper is not None and self.is_root:
                os.setxattr(host, OVERLAY_OPAQUE_XATTR, b"y")
            last = depth == len(parts) - 1
            self.dirs.append((host, 0o755, owner if last else ROOT, 0.0))
        return host

    def _is_dir(self, container_path: str) -> bool:
        try:
            return stat.S_ISDIR(self.merged.stat(container_path).st_mode)
        except OSError:
            return False

    # -- items -----------------------------------------------------------------------

    def _file(self, item: CopyItem, many: bool) -> None:
        dest = self.plan.dest
        if self.plan.dest_is_dir or many or self._is_dir(dest):
            if not item.name:
                raise InvalidArgument(f"cannot determine filename from url: {item.source}")
            dest = posixpath.join(dest, item.name)
        parent = self.ensure_dir(posixpath.dirname(dest), self.owner)
        self._write(item.entries[0], os.path.join(parent, posixpath.basename(dest)))

    def _tree(self, item: CopyItem, target: str) -> None:
        hosts = {"": target}
        for entry in item.entries:
            parent_rel, _, name = entry.rel.rpartition("/")
            path = os.path.join(hosts[parent_rel], name)
            if entry.kind is Kind.DIR:
                hosts[entry.rel] = self._tree_dir(entry, path)
            else:
                self._write(entry, path)

    def _tree_dir(self, entry: Entry, path: str) -> str:
        """A directory of a copied tree: an image symlink to a directory at that place is
        followed (``COPY rootfs/ /`` keeps ``/bin -> usr/bin``); otherwise it is made."""
        rel = os.path.relpath(path, self.upper)
        try:
            existing = self.merged.lstat(rel)
        except FileNotFoundError:
            existing = None
        if existing is not None and stat.S_ISLNK(existing.st_mode) and self._is_dir(rel):
            return self.ensure_dir(rel, self.owner)
        if not os.path.isdir(path) or os.path.islink(path):
            remove_path(path)
            os.mkdir(path, 0o700)
        self.dirs.append((path, self._mode(entry), self.owner, entry.mtime))
        return path

    def _extract(self, entry: Entry, target: str) -> None:
        assert entry.host is not None
        with open(entry.host, "rb") as f:
            apply_layer(_decompressed(f), Path(target),
                        ApplyOptions(whiteouts=WhiteoutMode.NONE))

    # -- entries ---------------------------------------------------------------------

    def _write(self, entry: Entry, path: str) -> None:
        remove_path(path)
        if entry.kind is Kind.HARDLINK:
            assert entry.group is not None
            os.link(self.links[entry.group], path, follow_symlinks=False)
            return
        if entry.kind is Kind.SYMLINK:
            os.symlink(entry.link, path)
        elif entry.kind is Kind.FIFO:
            os.mkfifo(path, 0o600)
        elif entry.data is not None:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(entry.data)
        else:
            assert entry.host is not None
            shutil.copyfile(entry.host, path, follow_symlinks=False)
        if entry.group is not None:
            self.links[entry.group] = path
        self._metadata(path, self._mode(entry), self.owner, entry.mtime,
                       symlink=entry.kind is Kind.SYMLINK)

    def _mode(self, entry: Entry) -> int:
        return self.plan.chmod if self.plan.chmod is not None else entry.mode

    def _metadata(self, path: str, mode: int, owner: Owner, mtime: float,
                  symlink: bool = False) -> None:
        if self.is_root:
            os.chown(path, owner.uid, owner.gid, follow_symlinks=False)
        if not symlink:
            os.chmod(path, mode)
        if mtime:
            ns = int(mtime * 1_000_000_000)
            os.utime(path, ns=(ns, ns), follow_symlinks=False)


def _decompressed(f: BinaryIO) -> BinaryIO:
    """bzip2 and xz unwrapped here; gzip (and zstd) are left to ``apply_layer``."""
    head = f.read(6)
    f.seek(0)
    if head.startswith(_BZIP2_MAGIC):
        return cast(BinaryIO, bz2.BZ2File(f))
    if head.startswith(_XZ_MAGIC):
        return cast(BinaryIO, lzma.LZMAFile(f))
    return f
