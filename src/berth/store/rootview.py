"""The one view of a container's or image's root filesystem, read and written without
mounting it: a stack of layer directories, topmost first, merged as overlayfs merges them.

Every read and write berthd makes inside a root goes through a :class:`LayerTree`: the
WORKDIR made before a container starts, the ``/etc/passwd`` and ``/etc/group`` of a user
lookup, ``docker export``, and the builder's COPY sources and stage lookups. Each
directory holds one layer the way the snapshotters leave it (``store/diff.py`` writes
them)::

    marker in a layer                      hides below it
    char device 0/0 at dir/name            dir/name              (overlay whiteout)
    dir/.wh.name  (regular file)           dir/name              (OCI form, if present)
    xattr trusted.overlay.opaque=y on dir  every lower dir/*     (overlay opaque dir)
    dir/.wh..wh..opq                       every lower dir/*     (OCI form, if present)

A non-directory hides everything below it at that name; a directory merges with lower
directories of the same name until one is opaque. A build context, or a native
snapshotter's copy, is one plain directory: ``whiteouts=False`` makes markers ordinary.

The rules that keep a hostile image or container inside its root:

  * a path is resolved in the merged view, as if the root were ``/``: ``..`` and absolute
    symlink targets never leave it (runc's securejoin, ``resolve_links``);
  * a file's content is opened from the layer's directory one component at a time with
    ``O_NOFOLLOW``, and only a regular file is read, so a link (or FIFO, or device) swapped
    in by a running container after the lookup fails instead of reaching the host;
  * ``export`` walks directories by descriptor, never by a host path a container can
    change underneath it;
  * writes go only to the writable top layer (``writable=True``: a container's upper dir,
    a build step's scratch), at the resolved in-root path, made one ``mkdirat`` at a
    time with no link followed; a whiteout there is replaced by an opaque directory.

``host_path`` and ``source_dirs`` hand out host paths for the builder to copy from; they
are for committed layers only, which nothing changes while they are read.
``secure_join`` (runc's, from ``runtime.linux.securejoin``) is re-exported for the
builder's plain directories (the build context), so the engine never imports
``runtime.linux`` itself.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import tarfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO, Protocol

from berth.errors import InvalidArgument
from berth.oci.mount import Mount
from berth.runtime.linux.securejoin import resolve_links, secure_join
from berth.store.diff import (
    OVERLAY_OPAQUE_XATTR,
    WHITEOUT_META_PREFIX,
    WHITEOUT_OPAQUE,
    WHITEOUT_PREFIX,
    add_path,
    open_regular,
)

__all__ = ["LayerTree", "export_tar", "secure_join", "split"]

_EMPTY_ROOT = os.stat_result((stat.S_IFDIR | 0o755, 0, 0, 2, 0, 0, 0, 0, 0, 0))
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# A layer's own directory is ours, not the container's: it may be reached through a link
# (``/proc/<pid>/root``, a running container's merged root); nothing below it is.
_LAYER = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


def split(rel: str) -> list[str]:
    """The components of a root-relative path; ``..`` is kept for the resolver."""
    return [c for c in rel.split("/") if c not in ("", ".")]


def _char_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _fd_path(fd: int, name: str) -> str:
    """A path that reaches ``name`` in the directory open as ``fd`` without resolving any
    host path again (``/proc/self/fd/N`` is that directory)."""
    return f"/proc/self/fd/{fd}/{name}"


def _open_dir(layer: Path, parts: Sequence[str]) -> int:
    """Directory ``layer/parts``, opened following no symlink on the way (each component
    with ``O_NOFOLLOW``): a component swapped for a link fails with ELOOP or ENOTDIR."""
    fd = os.open(layer, _LAYER)
    try:
        for name in parts:
            child = os.open(name, _DIR, dir_fd=fd)
            os.close(fd)
            fd = child
    except BaseException:
        os.close(fd)
        raise
    return fd


class LayerTree:
    """The merged view of ``dirs`` (top layer first); ``writable``: ``dirs[0]`` is the
    layer that :meth:`make_dirs` writes to."""

    def __init__(self, dirs: Sequence[Path], whiteouts: bool = True,
                 writable: bool = False) -> None:
        self.dirs: tuple[Path, ...] = tuple(Path(d) for d in dirs)
        self.whiteouts = whiteouts
        self.writable = writable and bool(self.dirs)

    @classmethod
    def from_mounts(cls, mounts: Sequence[Mount]) -> LayerTree:
        """The view of a snapshot from its mounts: a bind is one complete (writable)
        tree; an overlay its ``upperdir`` (writable, if any) over its ``lowerdir``s."""
        if len(mounts) != 1:
            raise InvalidArgument(f"unsupported rootfs of {len(mounts)} mounts")
        mount = mounts[0]
        if mount.type == "bind":
            return cls([Path(mount.source)], whiteouts=False, writable=True)
        if mount.type != "overlay":
            raise InvalidArgument(f"unsupported rootfs mounted as {mount.type}")
        options = dict(o.partition("=")[::2] for o in mount.options)
        upper = [Path(options["upperdir"])] if options.get("upperdir") else []
        lowers = [Path(p) for p in options.get("lowerdir", "").split(":") if p]
        return cls([*upper, *lowers], writable=bool(upper))

    @property
    def upper(self) -> Path:
        """The writable top layer."""
        if not self.writable:
            raise InvalidArgument("the root has no writable layer")
        return self.dirs[0]

    # -- markers ---------------------------------------------------------------------

    def _is_whiteout(self, layer: Path, parent: list[str], name: str,
                     st: os.stat_result | None) -> bool:
        if not self.whiteouts:
            return False
        if st is not None and _char_whiteout(st):
            return True
        return os.path.lexists(os.path.join(layer, *parent, WHITEOUT_PREFIX + name))

    def _is_opaque(self, path: str) -> bool:
        """Whether directory ``path`` (in one layer) hides the same directory below."""
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

    def _found(self, rel: str) -> tuple[list[str], list[tuple[Path, os.stat_result]]]:
        parts = split(rel)
        found = self._layers(parts)
        if not found:
            raise FileNotFoundError(errno.ENOENT, "no such file or directory", rel)
        return parts, found

    def lstat(self, rel: str) -> os.stat_result:
        """The entry at ``rel`` (final symlink not followed); FileNotFoundError if none."""
        if not split(rel):  # the root; an empty stack (``FROM scratch``) is an empty dir
            return os.stat(self.dirs[0]) if self.dirs else _EMPTY_ROOT  # ours: see _LAYER
        return self._found(rel)[1][0][1]

    def exists(self, rel: str) -> bool:
        try:
            self.lstat(rel)
        except FileNotFoundError:
            return False
        return True

    def host_path(self, rel: str) -> Path:
        """The real path of the topmost entry at ``rel`` (committed layers only)."""
        parts, found = self._found(rel)
        return found[0][0].joinpath(*parts)

    def source_dirs(self, rel: str) -> list[Path]:
        """The host paths that make up ``rel`` (symlinks followed inside the root): for a
        directory every merged layer's, top first (overlayfs ``lowerdir`` order), for
        anything else the one topmost. FileNotFoundError if it does not exist. For
        committed layers only."""
        resolved = self.resolve(rel)
        if not split(resolved):
            return [d for d in self.dirs if os.path.isdir(d)]
        parts, found = self._found(resolved)
        return [layer.joinpath(*parts) for layer, _ in found]

    def readlink(self, rel: str) -> str:
        parts, found = self._found(rel)
        fd = _open_dir(found[0][0], parts[:-1])
        try:
            return os.readlink(parts[-1], dir_fd=fd)
        finally:
            os.close(fd)

    # -- symlinks --------------------------------------------------------------------

    def resolve(self, rel: str, follow_final: bool = True) -> str:
        """``rel`` with symlinks followed inside the root, as a clean relative path
        ("" for the root). Components that do not exist are taken literally; a link
        loop raises ELOOP."""
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
        """The regular file at ``rel`` (symlinks followed inside the root), opened for
        reading; IsADirectoryError or EINVAL for anything else (``open_regular``)."""
        parts, found = self._found(self.resolve(rel))
        if not parts:
            raise IsADirectoryError(errno.EISDIR, "is a directory", rel)
        fd = _open_dir(found[0][0], parts[:-1])
        try:
            return os.fdopen(open_regular(parts[-1], dir_fd=fd), "rb")
        finally:
            os.close(fd)

    # -- directories -----------------------------------------------------------------

    def _level(self, fds: Sequence[int]) -> dict[str, list[tuple[int, os.stat_result]]]:
        """Each visible name of one directory, given open in each layer that makes it up
        (top first), → the (directory fd, lstat) of the layers holding it, top first:
        one for a non-directory, every merged one for a directory."""
        found: dict[str, list[tuple[int, os.stat_result]]] = {}
        closed: set[str] = set()
        for fd in fds:
            with os.scandir(fd) as it:
                entries = list(it)
            marked = {e.name[len(WHITEOUT_PREFIX):] for e in entries
                      if self._hidden_name(e.name)
                      and not e.name.startswith(WHITEOUT_META_PREFIX)}
            for e in entries:
                name = e.name
                if name in closed or self._hidden_name(name):
                    continue
                st = e.stat(follow_symlinks=False)  # fstatat on fd: no host path
                is_dir = stat.S_ISDIR(st.st_mode)
                if (name in marked or (self.whiteouts and _char_whiteout(st))
                        or (name in found and not is_dir)):
                    closed.add(name)
                    continue
                found.setdefault(name, []).append((fd, st))
                if not is_dir or self._opaque_at(fd, name):
                    closed.add(name)
            closed |= marked
        return found

    def _opaque_at(self, fd: int, name: str) -> bool:
        """``_is_opaque`` of directory ``name`` in the directory open as ``fd``."""
        if not self.whiteouts:
            return False
        try:
            child = os.open(name, _DIR, dir_fd=fd)
        except OSError:
            return False
        try:
            if os.path.lexists(_fd_path(child, WHITEOUT_OPAQUE)):
                return True
            return os.getxattr(child, OVERLAY_OPAQUE_XATTR) == b"y"
        except OSError:
            return False
        finally:
            os.close(child)

    def _dir_fds(self, rel: str) -> list[int]:
        """Directory ``rel`` (no symlink followed) open in each layer that makes it up."""
        parts = split(rel)
        if parts:
            layers = [layer for layer, st in self._layers(parts) if stat.S_ISDIR(st.st_mode)]
            if not layers:
                raise NotADirectoryError(errno.ENOTDIR, "not a directory", rel)
        else:
            layers = [d for d in self.dirs if os.path.isdir(d)]
        fds: list[int] = []
        try:
            for layer in layers:
                fds.append(_open_dir(layer, parts))
        except BaseException:
            for fd in fds:
                os.close(fd)
            raise
        return fds

    def listdir(self, rel: str) -> list[str]:
        """The merged names in directory ``rel``, sorted."""
        fds = self._dir_fds(rel)
        try:
            return sorted(self._level(fds))
        finally:
            for fd in fds:
                os.close(fd)

    def entries(self, rel: str = "") -> Iterator[tuple[str, str]]:
        """``(path relative to rel, host path)`` of every entry under directory ``rel``,
        parents first, sorted. The host path reaches the topmost entry through an open
        directory (``/proc/self/fd/N/name``) and is good until the next item."""
        fds = self._dir_fds(rel)
        try:
            yield from self._entries(fds, "")
        finally:
            for fd in fds:
                os.close(fd)

    def _entries(self, fds: Sequence[int], rel: str) -> Iterator[tuple[str, str]]:
        for name, holders in sorted(self._level(fds).items()):
            sub = f"{rel}/{name}" if rel else name
            top, st = holders[0]
            yield sub, _fd_path(top, name)
            if not stat.S_ISDIR(st.st_mode):
                continue
            children: list[int] = []
            try:
                for fd, _ in holders:
                    children.append(os.open(name, _DIR, dir_fd=fd))
                yield from self._entries(children, sub)
            finally:
                for fd in children:
                    os.close(fd)

    def walk(self, rel: str = "") -> list[str]:
        """Every path under directory ``rel`` (relative to it), parents first, sorted."""
        return [sub for sub, _ in self.entries(rel)]

    @contextlib.contextmanager
    def entry_path(self, rel: str) -> Iterator[str]:
        """A host path of the topmost entry at ``rel`` (final symlink not followed) that
        reaches it through its directory opened with no symlink followed
        (``/proc/self/fd/N/name``), good inside the block; FileNotFoundError if none."""
        parts, found = self._found(rel)
        fd = _open_dir(found[0][0], parts[:-1])
        try:
            yield _fd_path(fd, parts[-1])
        finally:
            os.close(fd)

    # -- writes ----------------------------------------------------------------------

    def open_upper(self, rel: str) -> int:
        """Directory ``rel`` (resolved, as :meth:`make_dirs` returns it) of the writable
        layer, opened following no symlink on the way; the caller closes it."""
        return _open_dir(self.upper, split(rel))

    def make_dirs(self, path: str, copy_up: bool = False) -> str:
        """``mkdir -p path`` as a process in the root would run it, in the writable top
        layer: symlinks followed inside the root, missing directories created root-owned
        0755, existing parents copied up with their mode and owner (overlay's copy-up);
        nothing written when the directory exists in any layer (unless ``copy_up``: then
        it and its parents are copied up into the writable layer, to write in). Returns
        the resolved path; NotADirectoryError where a non-directory is in the way."""
        rel = self.resolve(path)
        parts = split(rel)
        upper = self.upper
        # checked whole before any write: per component, (whether the writable layer
        # holds it, the directory it merges with below, if any)
        plan: list[tuple[bool, os.stat_result | None]] = []
        for depth in range(len(parts)):
            found = self._layers(parts[:depth + 1])
            if not found:
                break  # this and the rest are new
            if not stat.S_ISDIR(found[0][1].st_mode):
                raise NotADirectoryError(errno.ENOTDIR, "not a directory",
                                         "/" + "/".join(parts[:depth + 1]))
            plan.append((found[0][0] == upper, found[0][1]))
        if len(plan) == len(parts) and not (copy_up and not all(h for h, _ in plan)):
            return rel  # a directory already, in some layer: nothing to write
        plan += [(False, None)] * (len(parts) - len(plan))
        fd = os.open(upper, _LAYER)
        try:
            for name, (held, below) in zip(parts, plan, strict=True):
                if not held:
                    self._mkdir_at(fd, name, below)
                child = os.open(name, _DIR, dir_fd=fd)
                os.close(fd)
                fd = child
        finally:
            os.close(fd)
        return rel

    def _mkdir_at(self, fd: int, name: str, below: os.stat_result | None) -> None:
        """Make ``name`` in the upper directory open as ``fd``: a copy of ``below`` (the
        directory it merges with), or a new one that hides whatever a whiteout hid."""
        marker = ""
        if self.whiteouts:
            try:
                if _char_whiteout(os.lstat(name, dir_fd=fd)):
                    os.unlink(name, dir_fd=fd)
                    marker = OVERLAY_OPAQUE_XATTR
            except FileNotFoundError:
                pass
            try:
                os.unlink(WHITEOUT_PREFIX + name, dir_fd=fd)
                marker = WHITEOUT_OPAQUE
            except FileNotFoundError:
                pass
        os.mkdir(name, 0o700, dir_fd=fd)
        child = os.open(name, _DIR, dir_fd=fd)
        try:
            os.fchmod(child, below.st_mode & 0o7777 if below else 0o755)
            if below is not None and os.geteuid() == 0:
                os.fchown(child, below.st_uid, below.st_gid)
            if marker == OVERLAY_OPAQUE_XATTR:
                os.setxattr(child, OVERLAY_OPAQUE_XATTR, b"y")
            elif marker:
                os.close(os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
                                 | os.O_CLOEXEC, 0o600, dir_fd=child))
        finally:
            os.close(child)


def export_tar(mounts: Sequence[Mount], out: _Writable) -> None:
    """``docker export``: the merged tree of ``mounts`` as one uncompressed tar."""
    tree = LayerTree.from_mounts(mounts)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tf:  # type: ignore[call-overload]
        for rel, path in tree.entries():
            add_path(tf, path, rel)
