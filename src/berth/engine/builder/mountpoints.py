"""The mount points a RUN's ``--mount``s left in its upper dir: the runtime creates
each missing target (a directory, or an empty file for a file bind) and its missing
parents in the rootfs before mounting on it, and overlayfs copies up the existing parents
it creates them in. docker keeps all of that out of the layer; so does
:func:`drop_mount_points`, before the diff."""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from berth.store.diff import OVERLAY_OPAQUE_XATTR
from berth.store.rootview import LayerTree, split


def drop_mount_points(upper: Path, lower: LayerTree, targets: Sequence[str]) -> None:
    """Remove from a stopped RUN container's upper dir what only the runtime's mounting
    put there, as docker does: each target's empty mount point (a directory, or an empty
    file for a file bind) and its parents made for it, deepest first; and the parents
    that exist below but were copied up only to make the mount point (empty, not
    opaque, same mode and owner)."""
    for target in sorted(targets, key=lambda t: len(split(t)), reverse=True):
        parts = split(lower.resolve(target))
        for depth in range(len(parts), 0, -1):
            if not _drop_one(upper, lower, "/".join(parts[:depth]), depth == len(parts)):
                break


def _drop_one(upper: Path, lower: LayerTree, rel: str, last: bool) -> bool:
    path = upper / rel
    try:
        st = path.lstat()
    except FileNotFoundError:
        return True  # not copied up: nothing of it to drop, but its parents may be
    try:
        below: os.stat_result | None = lower.lstat(rel)
    except (FileNotFoundError, NotADirectoryError):
        below = None
    if stat.S_ISREG(st.st_mode):
        if last and below is None and st.st_size == 0:
            path.unlink()
            return True
        return False
    if not stat.S_ISDIR(st.st_mode) or any(path.iterdir()):
        return False
    if OVERLAY_OPAQUE_XATTR in os.listxattr(path, follow_symlinks=False):
        return False
    if below is not None and (not stat.S_ISDIR(below.st_mode) or
                              (st.st_mode, st.st_uid, st.st_gid) !=
                              (below.st_mode, below.st_uid, below.st_gid)):
        return False
    path.rmdir()
    return True
