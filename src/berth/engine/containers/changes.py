"""``docker diff``: what a container changed in its root filesystem, read from its overlay
upper dir against the image's layers (moby ``pkg/archive`` ``OverlayChanges``)::

    in the upper dir                         change
    char device 0/0, or .wh.<name>           Deleted  /<name>
    entry the image has                      Modified /<path> (a directory: when anything
                                             below it changed, or its mode/owner did)
    entry the image lacks                    Added    /<path>

Left out, as docker leaves them out (its "init layer"): the runtime's ``/etc/hosts``,
``/etc/hostname`` and ``/etc/resolv.conf`` mount points and directories made only to hold
them. A volume or bind target is listed itself (docker's runtime makes it in the RW layer:
"A /data") but never what is below it. The upper dir
belongs to the container (maybe running): it is walked by descriptor, no link followed.
"""

from __future__ import annotations

import asyncio
import enum
import os
import posixpath
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from berth import errors
from berth.engine.containers.service import ContainerService
from berth.engine.images.service import ImageService
from berth.store.diff import OVERLAY_OPAQUE_XATTR, WHITEOUT_META_PREFIX, WHITEOUT_PREFIX
from berth.store.rootview import LayerTree, split

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_RUNTIME_FILES = ("etc/hosts", "etc/hostname", "etc/resolv.conf")


class Kind(enum.IntEnum):
    MODIFIED = 0
    ADDED = 1
    DELETED = 2


@dataclass(frozen=True)
class Change:
    path: str  # absolute, in the container
    kind: Kind


def upper_changes(upper: Path, lower: LayerTree, targets: Sequence[str] = ()
                  ) -> list[Change]:
    """The changes an overlay ``upper`` dir makes over ``lower``, sorted by path;
    ``targets``: the container's mount targets, listed themselves (the runtime made
    them in the upper dir, as docker's shows "A /data") but not what is below them."""
    points = {"/".join(split(posixpath.normpath("/" + t))) for t in targets}
    skip = set(_RUNTIME_FILES)
    out: list[Change] = []
    fd = os.open(upper, _DIR)
    try:
        _walk(fd, "", lower, skip, out, points)
    finally:
        os.close(fd)
    return sorted(out, key=lambda c: c.path)


def _walk(fd: int, rel: str, lower: LayerTree, skip: set[str], out: list[Change],
          points: set[str]) -> bool:
    """Add the changes of the upper directory open as ``fd`` (at ``rel``); whether it
    holds anything left out (a mount point, a runtime file)."""
    held_skipped = False
    with os.scandir(fd) as it:
        entries = sorted(it, key=lambda e: e.name)
    for e in entries:
        name = e.name
        if name.startswith(WHITEOUT_PREFIX):
            if not name.startswith(WHITEOUT_META_PREFIX):
                out.append(Change("/" + _join(rel, name[len(WHITEOUT_PREFIX):]), Kind.DELETED))
            continue
        sub = _join(rel, name)
        if sub in skip:
            held_skipped = True
            continue
        st = e.stat(follow_symlinks=False)
        if sub in points:  # a mount point: itself, never what a mount put below it
            try:
                under = lower.lstat(sub)
            except (FileNotFoundError, NotADirectoryError):
                out.append(Change("/" + sub, Kind.ADDED))
                continue
            if _own_change(st, under):
                out.append(Change("/" + sub, Kind.MODIFIED))
            continue
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            out.append(Change("/" + sub, Kind.DELETED))
            continue
        try:
            below: os.stat_result | None = lower.lstat(sub)
        except (FileNotFoundError, NotADirectoryError):
            below = None
        if not stat.S_ISDIR(st.st_mode):
            out.append(Change("/" + sub, Kind.ADDED if below is None else Kind.MODIFIED))
            continue
        before = len(out)
        child = os.open(name, _DIR, dir_fd=fd)
        try:
            inner_skipped = _walk(child, sub, lower, skip, out, points)
            opaque = _opaque(child)
        finally:
            os.close(child)
        changed_below = len(out) > before
        if below is None or not stat.S_ISDIR(below.st_mode):
            if inner_skipped and not changed_below:
                held_skipped = True  # made only to hold a mount point
                continue
            out.append(Change("/" + sub, Kind.ADDED))
        elif changed_below or opaque or _own_change(st, below):
            out.append(Change("/" + sub, Kind.MODIFIED))
        elif inner_skipped:
            held_skipped = True
    return held_skipped


def _join(rel: str, name: str) -> str:
    return f"{rel}/{name}" if rel else name


def _opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OVERLAY_OPAQUE_XATTR) == b"y"
    except OSError:
        return False


def _own_change(st: os.stat_result, below: os.stat_result) -> bool:
    return (st.st_mode, st.st_uid, st.st_gid) != (below.st_mode, below.st_uid, below.st_gid)


class ContainerChanges:
    """``GET /containers/{id}/changes``."""

    def __init__(self, containers: ContainerService, images: ImageService) -> None:
        self._containers = containers
        self._images = images

    async def changes(self, ref: str) -> list[Change]:
        c = self._containers.get(ref)
        tree = LayerTree.from_mounts(await self._images.rootfs_mounts(c.id))
        if not (tree.writable and tree.whiteouts):
            raise errors.NotImplemented("docker diff needs the overlay snapshotter (berthd "
                                 "--snapshotter overlay): a native snapshot holds the "
                                 "whole tree, not the container's changes")
        lower = LayerTree(tree.dirs[1:])
        targets = [m.target for m in c.spec.mounts]
        return await asyncio.to_thread(upper_changes, tree.upper, lower, targets)
