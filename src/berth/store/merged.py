"""A snapshot's whole tree as its mounts would show it, read without mounting: what
``docker export`` needs for a container whose rootfs is mounted only inside its own mount
namespace (the shim's), or not at all while it is stopped.

A bind mount is one directory. An overlay is its layer directories, topmost first
(``upperdir``, then ``lowerdir`` left to right), merged as overlayfs merges them::

    a name          the topmost layer holding it decides; a whiteout there (a 0/0 character
                    device) hides it and everything below
    a directory     merges with the same directory in the layers below, down to the first
                    one where it is opaque (trusted.overlay.opaque=y) or not a directory
"""

from __future__ import annotations

import os
import stat
import tarfile
from collections.abc import Iterator
from typing import Protocol

from berth.errors import BerthError
from berth.oci.mount import Mount
from berth.store.diff import OVERLAY_OPAQUE_XATTR, add_path


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


def layer_dirs(mounts: list[Mount]) -> tuple[list[str], bool]:
    """The directories of a rootfs, topmost first, and whether they are overlay layers
    (holding whiteouts) rather than one complete tree."""
    if len(mounts) != 1:
        raise BerthError(f"cannot read a rootfs of {len(mounts)} mounts")
    mount = mounts[0]
    if mount.type == "bind":
        return [mount.source], False
    if mount.type != "overlay":
        raise BerthError(f"cannot read a rootfs mounted as {mount.type}")
    options = dict(o.partition("=")[::2] for o in mount.options)
    upper = [options["upperdir"]] if options.get("upperdir") else []
    lowers = options["lowerdir"].split(":") if options.get("lowerdir") else []
    return upper + lowers, True


def _whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, OVERLAY_OPAQUE_XATTR, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _level(dirs: list[str], overlay: bool) -> dict[str, list[str]]:
    """Each visible name of one directory level → its paths to merge, topmost first."""
    found: dict[str, list[str]] = {}
    closed: set[str] = set()
    for directory in dirs:
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except FileNotFoundError:
            continue
        for entry in entries:
            name = entry.name
            if name in closed:
                continue
            st = entry.stat(follow_symlinks=False)
            is_dir = stat.S_ISDIR(st.st_mode)
            if (overlay and _whiteout(st)) or (name in found and not is_dir):
                closed.add(name)
                continue
            found.setdefault(name, []).append(entry.path)
            if not is_dir or (overlay and _opaque(entry.path)):
                closed.add(name)
    return found


def walk(dirs: list[str], overlay: bool, rel: str = "") -> Iterator[tuple[str, str]]:
    """``(name in the tree, host path)`` of every visible entry, parents first."""
    for name, paths in sorted(_level(dirs, overlay).items()):
        entry_rel = f"{rel}/{name}" if rel else name
        yield entry_rel, paths[0]
        if stat.S_ISDIR(os.lstat(paths[0]).st_mode):
            yield from walk(paths, overlay, entry_rel)


def export_tar(mounts: list[Mount], out: _Writable) -> None:
    """Write the merged tree of ``mounts`` to ``out`` as one uncompressed tar."""
    dirs, overlay = layer_dirs(mounts)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:  # type: ignore[call-overload]
        for rel, path in walk(dirs, overlay):
            add_path(tf, path, rel)
