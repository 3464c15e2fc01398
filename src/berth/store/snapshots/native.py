"""The native snapshotter: every snapshot is a full copy of its parent (containerd
``snapshots/native``). Slow and large, but needs no overlayfs: it works on any filesystem
and unprivileged, which is what unit tests and odd hosts need.

``snapshots/<id>/fs`` holds the whole tree; prepare and view copy the parent's tree with
ownership, modes, mtimes and xattrs, keeping hardlinks within the copy but never linking to
the parent, so a write to the copy never changes the parent. Mounts are binds of ``fs``.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from berth.oci.mount import Mount
from berth.store.snapshots import Kind
from berth.store.snapshots.directory import DirectorySnapshotter
from berth.store.snapshots.storage import Record


class NativeSnapshotter(DirectorySnapshotter):
    def _populate(self, fs: Path, parent: Record | None) -> None:
        if parent is not None:
            copy_tree(str(self.storage.fs(parent)), str(fs))

    def _mounts(self, record: Record) -> list[Mount]:
        mode = "rw" if record.kind is Kind.ACTIVE else "ro"
        return [Mount("bind", str(self.storage.fs(record)), ("rbind", mode))]


def copy_tree(src: str, dst: str) -> None:
    """Copy the contents of ``src`` into the existing directory ``dst``, preserving
    metadata; hardlinked files inside ``src`` stay hardlinked to each other in ``dst``."""
    links: dict[tuple[int, int], str] = {}
    dirs: list[tuple[str, str]] = [(src, dst)]
    _copy_dir(src, dst, links, dirs)
    for s, d in reversed(dirs):  # directory metadata last: filling a dir changes its mtime
        _copy_metadata(s, d)


def _copy_dir(src: str, dst: str, links: dict[tuple[int, int], str],
              dirs: list[tuple[str, str]]) -> None:
    with os.scandir(src) as it:
        entries = list(it)
    for entry in entries:
        s, d = entry.path, os.path.join(dst, entry.name)
        st = entry.stat(follow_symlinks=False)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(d, 0o700)
            dirs.append((s, d))
            _copy_dir(s, d, links, dirs)
            continue
        ident = (st.st_dev, st.st_ino)
        if st.st_nlink > 1 and ident in links:
            os.link(links[ident], d, follow_symlinks=False)
            continue
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(s), d)
        elif stat.S_ISREG(st.st_mode):
            shutil.copyfile(s, d, follow_symlinks=False)
        elif stat.S_ISFIFO(st.st_mode):
            os.mkfifo(d, 0o600)
        else:  # character and block devices, overlay whiteouts, sockets
            os.mknod(d, st.st_mode, st.st_rdev)
        _copy_metadata(s, d)
        if st.st_nlink > 1:
            links[ident] = d


def _copy_metadata(src: str, dst: str) -> None:
    st = os.lstat(src)
    if os.geteuid() == 0:
        os.chown(dst, st.st_uid, st.st_gid, follow_symlinks=False)
    # copystat copies mode (not for symlinks), xattrs and times, in that order.
    shutil.copystat(src, dst, follow_symlinks=False)
