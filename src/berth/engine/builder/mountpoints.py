"""The mount points a RUN left in its upper dir: the runtime creates each missing
``--mount`` target (a directory, or an empty file for a file bind) and its missing
parents in the rootfs before mounting on it, and overlayfs copies up the existing parents
it creates them in; the runtime's own ``/etc/hosts``-style binds leave an empty file
each. docker keeps all of that out of the layer; so do :func:`drop_mount_points` and
:func:`drop_placeholders`, before the diff.

The upper dir is the RUN's own tree: the command may have put a symlink (to anywhere on
the host) where a mount point's parent was. So nothing here resolves a host path: each
directory is opened one component at a time with ``O_NOFOLLOW`` from the upper dir, and
every lstat, unlink and rmdir is made relative to such a directory descriptor. A
component that is a link, or no directory, ends the walk: nothing of ours is below it.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Sequence
from pathlib import Path

from berth.store.diff import OVERLAY_OPAQUE_XATTR
from berth.store.rootview import LayerTree, split

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# Files the runtime bind-mounts over the rootfs: an empty placeholder for each lands in a
# RUN container's upper dir, and docker keeps them out of the layer (its "init layer").
_PLACEHOLDERS = ("hosts", "hostname", "resolv.conf")


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


def drop_placeholders(upper: Path, lower: LayerTree) -> None:
    """Remove the runtime's empty mount-point files under ``etc`` (unless ``lower`` has
    them), and ``etc`` itself if that leaves it empty and not opaque."""
    fd = _open_dir(upper, ["etc"])
    if fd is None:
        return
    try:
        for name in _PLACEHOLDERS:
            try:
                st = os.lstat(name, dir_fd=fd)
            except FileNotFoundError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_size == 0 and \
                    not lower.exists(f"etc/{name}"):
                os.unlink(name, dir_fd=fd)
        empty = not os.listdir(fd) and OVERLAY_OPAQUE_XATTR not in os.listxattr(fd)
    finally:
        os.close(fd)
    if empty:
        _remove_dir(upper, [], "etc")


def _drop_one(upper: Path, lower: LayerTree, rel: str, last: bool) -> bool:
    *parents, name = split(rel)
    fd = _open_dir(upper, parents)
    if fd is None:
        return True  # not copied up, or a link the RUN made: no mount point of ours
    try:
        return _drop_at(fd, name, lower, rel, last)
    finally:
        os.close(fd)


def _drop_at(fd: int, name: str, lower: LayerTree, rel: str, last: bool) -> bool:
    """:func:`_drop_one` of ``name`` in the upper directory open as ``fd``."""
    try:
        st = os.lstat(name, dir_fd=fd)
    except FileNotFoundError:
        return True  # not copied up: nothing of it to drop, but its parents may be
    try:
        below: os.stat_result | None = lower.lstat(rel)
    except (FileNotFoundError, NotADirectoryError):
        below = None
    if stat.S_ISREG(st.st_mode):
        if last and below is None and st.st_size == 0:
            os.unlink(name, dir_fd=fd)
            return True
        return False
    if not stat.S_ISDIR(st.st_mode):
        return False
    child = os.open(name, _DIR, dir_fd=fd)
    try:
        if os.listdir(child) or OVERLAY_OPAQUE_XATTR in os.listxattr(child):
            return False
    finally:
        os.close(child)
    if below is not None and (not stat.S_ISDIR(below.st_mode) or
                              (st.st_mode, st.st_uid, st.st_gid) !=
                              (below.st_mode, below.st_uid, below.st_gid)):
        return False
    os.rmdir(name, dir_fd=fd)
    return True


def _open_dir(upper: Path, parts: Sequence[str]) -> int | None:
    """Directory ``upper/parts``, opened following no symlink on the way; None where a
    component is missing, a link or not a directory."""
    fd = os.open(upper, _DIR)
    try:
        for name in parts:
            child = os.open(name, _DIR, dir_fd=fd)
            os.close(fd)
            fd = child
    except OSError as err:
        os.close(fd)
        if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return None
        raise
    return fd


def _remove_dir(upper: Path, parents: Sequence[str], name: str) -> None:
    """rmdir ``name`` under ``upper/parents``; left alone if it is not an empty directory
    (any more)."""
    fd = _open_dir(upper, parents)
    if fd is None:
        return
    try:
        os.rmdir(name, dir_fd=fd)
    except OSError:
        pass
    finally:
        os.close(fd)
