"""A read-only merged view over a stack of layer directories, as overlayfs would show it.

``LayerTree([top, ..., bottom])`` answers lstat/listdir/readlink/open for paths relative
to the merged root without mounting anything, so COPY can read ``--from`` stages and
look up ``/etc/passwd`` of the stage it writes to. Each directory holds one layer the way
the snapshotters leave it on disk (``store/diff.py`` writes them)::

    marker in a layer                      hides below it
    char device 0/0 at dir/name            dir/name              (overlay whiteout)
    dir/.wh.name  (regular file)           dir/name              (OCI form, if present)
    xattr trusted.overlay.opaque=y on dir  every lower dir/*     (overlay opaque dir)
    dir/.wh..wh..opq                       every lower dir/*     (OCI form, if present)

A non-directory hides everything below it at that name; a directory merges with lower
directories of the same name until one is opaque. A build context is a single plain
directory: ``LayerTree([root], whiteouts=False)`` treats the markers as ordinary files.

Symlinks are resolved inside the merged root (``..`` and absolute targets never leave it),
as runc's securejoin does on a real rootfs.
"""

from __future__ import annotations

import errno
import os
import posixpath
import stat
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO

from berth.runtime.linux.securejoin import resolve_links
from berth.store.diff import OVERLAY_OPAQUE_XATTR, WHITEOUT_OPAQUE, WHITEOUT_PREFIX

_EMPTY_ROOT = os.stat_result((stat.S_IFDIR | 0o755, 0, 0, 2, 0, 0, 0, 0, 0, 0))


def split(rel: str) -> list[str]:
    """The components of a root-relative path; ``..`` is kept for the resolver."""
    return [c for c in rel.split("/") if c not in ("", ".")]


class LayerTree:
    """The merged view of ``dirs`` (top layer first)."""

    def __init__(self, dirs: Sequence[Path], whiteouts: bool = True) -> None:
        self.dirs: tuple[Path, ...] = tuple(Path(d) for d in dirs)
        self.whiteouts = whiteouts

    # -- one layer -------------------------------------------------------------------

    def _is_whiteout(self, layer: Path, parent: list[str], name: str,
                     st: os.stat_result | None) -> bool:
        if not self.whiteouts:
            return False
        if st is not None and stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            return True
        return os.path.lexists(os.path.join(layer, *parent, WHITEOUT_PREFIX + name))

    def _is_opaque(self, path: str) -> bool:
        if not self.whiteouts:
            return False
        if os.path.lexists(os.path.join(path, WHITEOUT_OPAQUE)):
            return True
        try:
            return os.getxattr(path, OVERLAY_OPAQUE_XATTR, follow_symlinks=False) == b"y"
        except OSError:
            return False

    def _hidden_name(self, name: str) -> bool:
        return self.whiteouts and name.startswith(WHITEOUT_PREFIX)

    # -- lookup ----------------------------------------------------------------------

    def _layers(self, parts: list[str]) -> list[tuple[Path, os.stat_result]]:
        """The layers that hold ``parts`` (no symlink followed), top first, with each
        one's lstat: one entry for a non-directory, all merged layers for a directory.
        Empty when the path does not exist in the merged view."""
        visible: list[Path] = list(self.dirs)
        found: list[tuple[Path, os.stat_result]] = []
        for depth, name in enumerate(parts):
            if self._hidden_name(name):
                return []
            parent = parts[:depth]
            found = []
            for layer in visible:
                path = os.path.join(layer, *parent, name)
                try:
                    st = os.lstat(path)
                except (FileNotFoundError, NotADirectoryError):
                    st = None
                if self._is_whiteout(layer, parent, name, st):
                    break
                if st is None:
                    continue
                if not stat.S_ISDIR(st.st_mode):
                    if not found:
                        found = [(layer, st)]
                    break
                found.append((layer, st))
                if self._is_opaque(path):
                    break
            if not found:
                return []
            if depth < len(parts) - 1 and not stat.S_ISDIR(found[0][1].st_mode):
                return []  # a file used as a directory
            visible = [layer for layer, _ in found]
        return found

    def lstat(self, rel: str) -> os.stat_result:
        """The entry at ``rel`` (final symlink not followed); FileNotFoundError if none."""
        parts = split(rel)
        if not parts:  # the root; an empty stack (``FROM scratch``) is an empty directory
            return os.lstat(self.dirs[0]) if self.dirs else _EMPTY_ROOT
        found = self._layers(parts)
        if not found:
            raise FileNotFoundError(errno.ENOENT, "no such file or directory", rel)
        return found[0][1]

    def exists(self, rel: str) -> bool:
        try:
            self.lstat(rel)
        except FileNotFoundError:
            return False
        return True

    def host_path(self, rel: str) -> Path:
        """The real path of the topmost entry at ``rel`` (for reading its content)."""
        parts = split(rel)
        found = self._layers(parts)
        if not found:
            raise FileNotFoundError(errno.ENOENT, "no such file or directory", rel)
        return found[0][0].joinpath(*parts)

    def source_dirs(self, rel: str) -> list[Path]:
        """The host paths that make up ``rel`` (symlinks followed inside the root): for a
        directory every merged layer's, top first (overlayfs ``lowerdir`` order), for
        anything else the one topmost. FileNotFoundError if it does not exist."""
        parts = split(self.resolve(rel))
        if not parts:
            return [d for d in self.dirs if os.path.isdir(d)]
        found = self._layers(parts)
        if not found:
            raise FileNotFoundError(errno.ENOENT, "no such file or directory", rel)
        return [layer.joinpath(*parts) for layer, _ in found]

    def listdir(self, rel: str) -> list[str]:
        """The merged names in directory ``rel``, sorted."""
        parts = split(rel)
        layers = [d for d in self.dirs if os.path.isdir(d)] if not parts else [
            layer for layer, st in self._layers(parts) if stat.S_ISDIR(st.st_mode)]
        if parts and not layers:
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", rel)
        names: set[str] = set()
        hidden: set[str] = set()
        for layer in layers:
            path = os.path.join(layer, *parts)
            with os.scandir(path) as it:
                for entry in it:
                    name = entry.name
                    if name in names or name in hidden:
                        continue
                    if self._hidden_name(name):
                        if name != WHITEOUT_OPAQUE and not name.startswith(WHITEOUT_PREFIX * 2):
                            hidden.add(name[len(WHITEOUT_PREFIX):])
                        continue
                    st = entry.stat(follow_symlinks=False)
                    if self._is_whiteout(layer, parts, name, st):
                        hidden.add(name)
                    else:
                        names.add(name)
        return sorted(names)

    def readlink(self, rel: str) -> str:
        return os.readlink(self.host_path(rel))

    # -- symlinks --------------------------------------------------------------------

    def resolve(self, rel: str, follow_final: bool = True) -> str:
        """``rel`` with symlinks followed inside the root, as a clean relative path
        ("" for the root). Components that do not exist are taken literally."""
        def readlink(candidate: list[str]) -> str | None:
            found = self._layers(candidate)
            if not found or not stat.S_ISLNK(found[0][1].st_mode):
                return None
            return os.readlink(found[0][0].joinpath(*candidate))

        return "/".join(resolve_links(rel, readlink, follow_final))

    def stat(self, rel: str) -> os.stat_result:
        """``lstat`` of ``rel`` with every symlink followed inside the root."""
        return self.lstat(self.resolve(rel))

    def open(self, rel: str) -> BinaryIO:
        """The file at ``rel`` (symlinks followed inside the root), opened for reading."""
        path = self.host_path(self.resolve(rel))
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
        return os.fdopen(fd, "rb")

    def walk(self, rel: str = "") -> list[str]:
        """Every path under directory ``rel`` (relative to it), parents first, sorted."""
        out: list[str] = []
        base = split(rel)
        for name in self.listdir(rel):
            sub = name
            out.append(sub)
            full = posixpath.join(*base, name) if base else name
            if stat.S_ISDIR(self.lstat(full).st_mode):
                out.extend(f"{sub}/{child}" for child in self.walk(full))
        return out
