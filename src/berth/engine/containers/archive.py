"""``docker cp``: stat, read (a tar) and write (extract a tar) a path in a container, running
or not (moby ``daemon/archive_unix.go``, ``go-archive``).

Nothing is mounted: the container's root is the :class:`~berth.store.rootview.LayerTree`
of its snapshot (its upper dir over the image's layers), and each volume or bind mounted
into it (a :class:`FsMount`) is a plain tree of its own at its target::

    container path ──resolve in the rootfs (symlinks stay inside)──▶ rel
        └─ under a mount's target? ─▶ the rest resolved in that mount's tree
    read:  topmost layer's entry, opened by descriptor with O_NOFOLLOW
    write: stopped — the writable layer (the upper dir), parents copied up;
           running — its mounted root, ``/proc/<pid>/root``, so overlayfs itself copies
           up and whites out (writing the upper dir under a live overlay mount is
           undefined: its cached lookups hide new files);
           either way every create relative to a directory descriptor, O_NOFOLLOW

Paths are resolved as a ``chroot`` into the container would resolve them: ``..`` and
absolute symlinks never leave the root. An extracted entry whose name climbs out of the
extraction point, a symlink whose relative target does, or a hard link to outside it is
refused as docker refuses them.
"""

from __future__ import annotations

import asyncio
import errno
import os
import posixpath
import shutil
import stat
import tarfile
import threading
from collections import deque
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeVar

from berth.engine import clock, streams
from berth.engine.containers.model import Container
from berth.engine.containers.process import resolve_user
from berth.engine.containers.service import ContainerService
from berth.engine.images.service import ImageService
from berth.engine.volumes.model import MountPoint
from berth.errors import BerthError, InvalidArgument, NotFound
from berth.store.diff import TarInput, add_path
from berth.store.rootview import LayerTree, split

T = TypeVar("T")
_PAX_XATTR = "SCHILY.xattr."
_CHUNK = 1 << 20
_FEED_LIMIT = 4 << 20  # body bytes waiting for the extractor at most (and a chunk more)
_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC

# Go's os.FileMode bits (PathStat.mode is one, as docker's JSON carries it)
_GO_DIR, _GO_SYMLINK, _GO_DEVICE, _GO_PIPE, _GO_SOCKET = 1 << 31, 1 << 27, 1 << 26, 1 << 25, 1 << 24
_GO_SETUID, _GO_SETGID, _GO_CHARDEV, _GO_STICKY = 1 << 23, 1 << 22, 1 << 21, 1 << 20


class _Writable(Protocol):
    def write(self, data: bytes, /) -> int: ...


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


@dataclass(frozen=True)
class PathStat:
    """docker's container.PathStat (the ``X-Docker-Container-Path-Stat`` header)."""

    name: str
    size: int
    mode: int  # a Go os.FileMode
    mtime: str  # RFC 3339 with nanoseconds
    link_target: str  # "" unless a symlink: its target resolved inside the container


@dataclass(frozen=True)
class FsMount:
    """A volume or bind mounted into the container: ``source`` on the host at ``target``."""

    target: str
    source: str
    read_only: bool = False


@dataclass(frozen=True)
class ExtractOptions:
    no_overwrite_dir_non_dir: bool = False
    copy_uid_gid: bool = False  # chown to the container's user instead of the tar's owner


def go_file_mode(mode: int) -> int:
    out = mode & 0o777
    if stat.S_ISDIR(mode):
        out |= _GO_DIR
    elif stat.S_ISLNK(mode):
        out |= _GO_SYMLINK
    elif stat.S_ISFIFO(mode):
        out |= _GO_PIPE
    elif stat.S_ISSOCK(mode):
        out |= _GO_SOCKET
    elif stat.S_ISBLK(mode):
        out |= _GO_DEVICE
    elif stat.S_ISCHR(mode):
        out |= _GO_DEVICE | _GO_CHARDEV
    for bit, go in ((stat.S_ISUID, _GO_SETUID), (stat.S_ISGID, _GO_SETGID),
                    (stat.S_ISVTX, _GO_STICKY)):
        if mode & bit:
            out |= go
    return out


def go_base(path: str) -> str:
    """Go's ``filepath.Base``: trailing slashes dropped, "/" for the root."""
    stripped = path.rstrip("/")
    if not stripped:
        return "/" if path else "."
    return stripped.rpartition("/")[2]


def absolute(path: str) -> str:
    """``/``-joined and cleaned, keeping a trailing "/" or "/." (docker's
    ``PreserveTrailingDotOrSeparator``): they ask for a directory's contents."""
    clean = posixpath.normpath("/" + path.lstrip("/"))
    if path.endswith("/.") or path == ".":
        return clean.rstrip("/") + "/."
    if path.endswith("/") and clean != "/":
        return clean + "/"
    return clean


@dataclass(frozen=True)
class _Located:
    tree: LayerTree
    rel: str  # resolved, relative to the tree's root
    path: str  # the container path it is at
    read_only: bool
    in_mount: bool


class ContainerFs:
    """A container's files as a process in it sees them: the rootfs with ``mounts`` over
    it. Blocking; run in a thread."""

    def __init__(self, rootfs: LayerTree, mounts: Sequence[FsMount] = (),
                 readonly_rootfs: bool = False, merged: Path | None = None) -> None:
        self.rootfs = rootfs
        # A running container's mounted root (``/proc/<pid>/root``): writes go through
        # overlayfs there, never into the upper dir behind a live mount's back (its
        # dentry cache would not see them); reads take the layers, as for a stopped one.
        self.merged = LayerTree([merged], whiteouts=False, writable=True) if merged else None
        self.readonly_rootfs = readonly_rootfs
        # deepest first, so the innermost mount at a path wins
        self.mounts = sorted(((split(posixpath.normpath("/" + m.target)), m) for m in mounts),
                             key=lambda pm: len(pm[0]), reverse=True)

    def locate(self, path: str, follow_final: bool, write: bool = False) -> _Located:
        """Where ``path`` is: the tree holding it (``write``: the one to write it in)."""
        rel = self.rootfs.resolve(path, follow_final)
        parts = split(rel)
        for target, m in self.mounts:
            if parts[:len(target)] == target:
                tree = LayerTree([Path(m.source)], whiteouts=False, writable=True)
                inner = tree.resolve("/".join(parts[len(target):]), follow_final)
                where = "/" + "/".join([*target, *split(inner)])
                return _Located(tree, inner, where, m.read_only, True)
        tree = self.merged if write and self.merged is not None else self.rootfs
        return _Located(tree, rel, "/" + rel, self.readonly_rootfs, False)

    def stat(self, path: str) -> PathStat:
        """docker's ``Stat``: the entry at ``path`` (a final symlink not followed unless
        the path ends in "/"), named by the path's last component."""
        loc = self.locate(path, follow_final=path.endswith(("/", "/.")))
        st = loc.tree.lstat(loc.rel)
        if path.endswith(("/", "/.")) and not stat.S_ISDIR(st.st_mode):
            raise NotADirectoryError(errno.ENOTDIR, "not a directory", path)
        target = ""
        if stat.S_ISLNK(st.st_mode):
            target = self.locate(path, follow_final=True).path
        return PathStat(go_base(path), st.st_size, go_file_mode(st.st_mode),
                        clock.rfc3339(st.st_mtime_ns / 1e9), target)

    # -- reading ---------------------------------------------------------------------

    def write_tar(self, path: str, out: _Writable) -> None:
        """The tar docker's ``GET .../archive`` sends: a directory with its contents
        under its own name (or "." for "dir/."), anything else as itself."""
        abs_path = absolute(path)
        loc = self.locate(abs_path, follow_final=abs_path.endswith(("/", "/.")))
        st = loc.tree.lstat(loc.rel)
        top = go_base(abs_path)
        top = "." if top == "/" else top
        # "w" (not "w|"): each header and 1 MiB piece of a file's data goes to ``out`` as
        # it is, not re-sliced through tarfile's stream buffer (the same bytes)
        with tarfile.open(fileobj=_Told(out), mode="w", format=tarfile.PAX_FORMAT,  # type: ignore[call-overload]
                          copybufsize=_CHUNK) as tf:
            if not stat.S_ISDIR(st.st_mode):
                with loc.tree.entry_path(loc.rel) as host:
                    add_path(tf, host, top)
                return
            tf.addfile(_dir_info(top, st))
            self._add_dir(tf, loc, top)

    def _add_dir(self, tf: tarfile.TarFile, loc: _Located, top: str) -> None:
        inner = [(t, m) for t, m in self.mounts
                 if not loc.in_mount and t[:len(split(loc.rel))] == split(loc.rel)
                 and len(t) > len(split(loc.rel))]
        covered = ["/".join(t[len(split(loc.rel)):]) for t, _ in inner]
        for sub, host in loc.tree.entries(loc.rel):
            if any(sub == c or sub.startswith(c + "/") for c in covered):
                continue  # a mount hides what the rootfs has there
            add_path(tf, host, f"{top}/{sub}")
        for target, m in inner:  # each volume's contents at its target, as docker's tar
            tree = LayerTree([Path(m.source)], whiteouts=False)
            name = f"{top}/" + "/".join(target[len(split(loc.rel)):])
            tf.addfile(_dir_info(name, tree.lstat("")))
            for sub, host in tree.entries(""):
                add_path(tf, host, f"{name}/{sub}")

    # -- writing ---------------------------------------------------------------------

    def extract(self, path: str, stream: _Readable, options: ExtractOptions,
                owner: tuple[int, int] | None = None) -> None:
        """Unpack the tar ``stream`` (compressed or not) into directory ``path``
        (docker's ``containerExtractToDir``); ``owner``: every entry's uid/gid."""
        loc = self.locate(absolute(path), follow_final=True, write=True)
        if not stat.S_ISDIR(loc.tree.lstat(loc.rel).st_mode):
            raise InvalidArgument("extraction point is not a directory")
        if loc.read_only:
            raise InvalidArgument("mounted volume is marked read-only" if loc.in_mount
                                  else "container rootfs is marked read-only")
        source = stream if isinstance(stream, TarInput) else TarInput.reading(stream)
        tar = source.uncompressed()
        writer = _Extractor(self, loc.path, options, owner, tar)
        try:
            # "r:": tarfile reads the headers through TarInput's forward-only tell/seek;
            # a regular file's data is written by _Extractor straight from its chunks
            with tarfile.open(fileobj=tar, mode="r:") as tf:  # type: ignore[call-overload]
                for member in tf:
                    writer.apply(tf, member)
        except (tarfile.TarError, EOFError) as err:
            raise InvalidArgument(f"invalid tar archive: {err}") from err
        writer.finish()


class BodyFeed:
    """A request body handed from the event loop to the thread extracting it: ``put``
    (on the loop) waits while ``limit`` bytes are unread; ``take`` (in the thread) blocks
    until some arrived. ``end`` says the body is over; ``close`` that the reader is done
    (``put`` then returns False, and what waited is dropped)."""

    def __init__(self, limit: int = _FEED_LIMIT) -> None:
        self._loop = asyncio.get_running_loop()
        self._cond = threading.Condition()
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._limit = limit
        self._want = 0  # what the waiting reader asked for (0: nobody waits)
        self._ended = False
        self._closed = False
        self._room: asyncio.Future[None] | None = None

    async def put(self, chunk: bytes) -> bool:
        with self._cond:
            if self._closed:
                return False
            self._chunks.append(chunk)
            self._size += len(chunk)
            if self._want and self._size >= self._want:
                self._cond.notify()
            if self._size < self._limit:
                return True
            room = self._room = self._loop.create_future()
        await room
        return not self._closed

    def end(self) -> None:
        with self._cond:
            self._ended = True
            self._cond.notify()

    def take(self, want: int) -> list[bytes]:
        with self._cond:
            want = min(want, self._limit)
            while self._size < want and not (self._ended or self._closed):
                self._want = want
                self._cond.wait()
            self._want = 0
            out = list(self._chunks)
            self._chunks.clear()
            self._size = 0
            self._wake()
            return out

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._chunks.clear()
            self._size = 0
            self._cond.notify()
            self._wake()

    def _wake(self) -> None:
        if self._room is not None:
            self._loop.call_soon_threadsafe(_resolve, self._room)
            self._room = None


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class _Told:
    """A writable with the ``tell`` a non-stream ``TarFile`` wants."""

    def __init__(self, out: _Writable) -> None:
        self._out = out
        self._pos = 0

    def write(self, data: bytes, /) -> int:
        self._out.write(data)
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos


def _dir_info(name: str, st: os.stat_result) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = stat.S_IMODE(st.st_mode)
    info.uid, info.gid, info.mtime = st.st_uid, st.st_gid, int(st.st_mtime)
    return info


class _Extractor:
    """One tar into a container, entry by entry; directory metadata last (writing
    children changes it), deepest first."""

    def __init__(self, fs: ContainerFs, dest: str, options: ExtractOptions,
                 owner: tuple[int, int] | None, source: TarInput) -> None:
        self.fs = fs
        self.source = source  # the tar stream: a regular file's data is copied from it
        self.dest = dest
        self.options = options
        self.owner = owner
        self.is_root = os.geteuid() == 0
        self.dirs: list[tuple[str, tarfile.TarInfo]] = []

    def _inside(self, name: str) -> str:
        """The container path of entry ``name``; refused if it climbs out of dest."""
        rel = posixpath.normpath(name.lstrip("/")) if name.strip("/") else "."
        if rel == ".." or rel.startswith("../"):
            raise InvalidArgument(f"{name!r} is outside of {self.dest!r}")
        return posixpath.normpath(posixpath.join(self.dest, rel))

    def apply(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        path = self._inside(member.name)
        if member.issym() and not member.linkname.startswith("/"):
            target = posixpath.normpath(posixpath.join(posixpath.dirname(path),
                                                       member.linkname))
            if not _under(target, self.dest):
                raise InvalidArgument(f"invalid symlink {path!r} -> {member.linkname!r}")
        if path == self.dest:
            return  # "." itself: the extraction point keeps its own metadata (go-archive)
        parent = self.fs.locate(posixpath.dirname(path), follow_final=True, write=True)
        name = posixpath.basename(path)
        if parent.read_only:
            raise InvalidArgument("mounted volume is marked read-only" if parent.in_mount
                                  else "container rootfs is marked read-only")
        prel = parent.tree.make_dirs(parent.rel, copy_up=True)
        crel = f"{prel}/{name}" if prel else name
        try:
            existing: os.stat_result | None = parent.tree.lstat(crel)
        except (FileNotFoundError, NotADirectoryError):
            existing = None
        if existing is not None and self.options.no_overwrite_dir_non_dir:
            if stat.S_ISDIR(existing.st_mode) and not member.isdir():
                raise InvalidArgument(
                    f"cannot overwrite directory {path!r} with non-directory {member.name!r}")
            if not stat.S_ISDIR(existing.st_mode) and member.isdir():
                raise InvalidArgument(
                    f"cannot overwrite non-directory {path!r} with directory {member.name!r}")
        if member.isdir():
            self._make_dir(parent.tree, prel, crel, name, existing)
            self.dirs.append((path, member))
            return
        fd = parent.tree.open_upper(prel)
        try:
            _remove_at(fd, name)
            if self._create(tf, member, fd, name, path):
                self._metadata(fd, name, member)
        finally:
            os.close(fd)

    def _make_dir(self, tree: LayerTree, prel: str, crel: str, name: str,
                  existing: os.stat_result | None) -> None:
        if existing is not None and stat.S_ISDIR(existing.st_mode):
            tree.make_dirs(crel, copy_up=True)
            return
        fd = tree.open_upper(prel)
        try:
            if existing is not None:
                _remove_at(fd, name)
            try:
                below = tree.lstat(crel)
            except (FileNotFoundError, NotADirectoryError):
                below = None
            if below is not None and not stat.S_ISDIR(below.st_mode):
                os.mkdir(name, 0o755, dir_fd=fd)  # an upper dir hides a lower non-dir
                return
        finally:
            os.close(fd)
        tree.make_dirs(crel, copy_up=True)  # new (an opaque dir over a whiteout)

    def _create(self, tf: tarfile.TarFile, member: tarfile.TarInfo, fd: int, name: str,
                path: str) -> bool:
        if member.isreg() and member.sparse is None:
            out = _create_file(fd, name)
            try:
                if self.source.tell() != member.offset_data:
                    self.source.seek(member.offset_data)
                self.source.copy_to(out, member.size)
            finally:
                os.close(out)
        elif member.isreg():  # GNU sparse: tarfile knows the map
            self._write_file(tf.extractfile(member), fd, name)
        elif member.issym():
            os.symlink(member.linkname, name, dir_fd=fd)
        elif member.islnk():
            target = self._inside(member.linkname)
            if not _under(target, self.dest):
                raise InvalidArgument(f"invalid hardlink {path!r} -> {member.linkname!r}")
            loc = self.fs.locate(target, follow_final=False)
            try:
                with loc.tree.open(loc.rel) as src:  # a copy: the link may cross layers
                    self._write_file(src, fd, name)
            except OSError as err:
                raise InvalidArgument(f"invalid hardlink {path!r} -> "
                                      f"{member.linkname!r}: {err.strerror}") from err
        elif member.isfifo():
            os.mkfifo(name, 0o600, dir_fd=fd)
        elif (member.ischr() or member.isblk()) and self.is_root:
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(name, kind | 0o600, os.makedev(member.devmajor, member.devminor),
                     dir_fd=fd)
        else:
            return False
        return True

    def _write_file(self, src: _Readable | None, fd: int, name: str) -> None:
        with os.fdopen(_create_file(fd, name), "wb") as f:
            while src is not None and (block := src.read(_CHUNK)):
                f.write(block)

    def _metadata(self, fd: int, name: str, member: tarfile.TarInfo) -> None:
        uid, gid = self.owner if self.owner is not None else (member.uid, member.gid)
        mtime = int(member.mtime * 1_000_000_000)
        if member.issym():
            if self.is_root:
                os.chown(name, uid, gid, dir_fd=fd, follow_symlinks=False)
            os.utime(name, ns=(mtime, mtime), dir_fd=fd, follow_symlinks=False)
            return
        # through an O_PATH handle of the entry itself: nothing swapped in is followed
        handle = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
        try:
            proc = f"/proc/self/fd/{handle}"
            if self.is_root:
                os.chown(proc, uid, gid)
            os.chmod(proc, member.mode & 0o7777)
            for key, value in member.pax_headers.items():
                name_ = key.removeprefix(_PAX_XATTR)
                if name_ != key and not name_.startswith("trusted.overlay."):
                    try:
                        os.setxattr(proc, name_, value.encode("utf-8", "surrogateescape"))
                    except OSError as err:  # go-archive ignores an fs that has none
                        if err.errno not in (errno.ENOTSUP, errno.EPERM):
                            raise
            os.utime(proc, ns=(mtime, mtime))
        finally:
            os.close(handle)

    def finish(self) -> None:
        for path, member in reversed(self.dirs):
            loc = self.fs.locate(path, follow_final=False, write=True)
            if not split(loc.rel):
                continue  # the root of a mounted tree: leave it as it is
            prel, _, base = loc.rel.rpartition("/")
            fd = loc.tree.open_upper(prel)
            try:
                self._metadata(fd, base, member)
            finally:
                os.close(fd)


def _create_file(fd: int, name: str) -> int:
    """A new file ``name`` in the directory open as ``fd``, open for writing (never
    through a link: O_EXCL|O_NOFOLLOW)."""
    return os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                   0o600, dir_fd=fd)


def _under(path: str, dest: str) -> bool:
    dest = dest.rstrip("/.") or "/"
    return dest == "/" or path == dest or path.startswith(dest + "/")


def _remove_at(fd: int, name: str) -> None:
    """Remove ``name`` from the upper directory open as ``fd`` (never following a link)."""
    try:
        st = os.lstat(name, dir_fd=fd)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(name, dir_fd=fd)
    else:
        os.unlink(name, dir_fd=fd)


# -- the engine's service ---------------------------------------------------------------

MountSource = Callable[[Container], Sequence[FsMount]]


def bind_mounts(c: Container) -> list[FsMount]:
    """The container's bind mounts (their sources are host paths); volumes need the
    volume service's mountpoints (see :class:`ContainerArchive`'s ``mounts``)."""
    return [FsMount(m.target, m.source, m.read_only) for m in c.spec.mounts
            if m.type == "bind" and m.source]


def mount_points_source(points: Callable[[Container], Sequence[MountPoint]]) -> MountSource:
    """The container's binds and volumes from inspect's ``Mounts`` (the volume service's
    ``mount_points``: a volume's host path filled in); a tmpfs has none to reach."""
    def mounts(c: Container) -> list[FsMount]:
        return [FsMount(p.destination, p.source, not p.rw) for p in points(c)
                if p.source and p.type in ("bind", "volume")]
    return mounts


class ContainerArchive:
    """``/containers/{id}/archive``: running or stopped, as docker's. ``mounts``: the
    container's volume and bind mounts as host paths (default: its binds only)."""

    def __init__(self, containers: ContainerService, images: ImageService,
                 mounts: MountSource = bind_mounts) -> None:
        self._containers = containers
        self._images = images
        self._mounts = mounts

    async def _fs(self, ref: str) -> tuple[Container, ContainerFs]:
        c = self._containers.get(ref)
        tree = LayerTree.from_mounts(await self._images.rootfs_mounts(c.id))
        merged = Path(f"/proc/{c.state.pid}/root") if c.state.running and c.state.pid \
            else None
        return c, ContainerFs(tree, self._mounts(c), c.spec.readonly_rootfs, merged)

    async def stat(self, ref: str, path: str) -> PathStat:
        _, fs = await self._fs(ref)
        return await _translated(ref, path, asyncio.to_thread(fs.stat, path))

    async def get(self, ref: str, path: str
                  ) -> tuple[PathStat, AsyncGenerator[bytes, None]]:
        """The stat of ``path`` and its tar, made as it is read (bounded memory)."""
        c, fs = await self._fs(ref)
        found = await _translated(ref, path, asyncio.to_thread(fs.stat, absolute(path)))
        self._containers.publish(c, "archive-path")
        return found, streams.from_thread(lambda out: fs.write_tar(path, out), chunk=_CHUNK)

    async def put(self, ref: str, path: str, body: AsyncIterator[bytes],
                  options: ExtractOptions) -> None:
        """Extract the tar ``body`` into directory ``path``, in a thread it is handed to
        chunk by chunk (:class:`BodyFeed`): at most ``_FEED_LIMIT`` of it in memory."""
        c, fs = await self._fs(ref)
        owner = None
        if options.copy_uid_gid and c.user:  # moby: without a Config.User, the tar's
            try:
                uid, gid, _ = await asyncio.to_thread(resolve_user, c.user, fs.rootfs)
            except BerthError as err:
                raise InvalidArgument(str(err)) from err
            owner = (uid, gid)
        feed = BodyFeed()

        def extract() -> None:
            try:
                fs.extract(path, TarInput(feed.take), options, owner)
            finally:
                feed.close()  # the feeder stops at its next chunk

        async def feeding() -> None:
            try:
                async for chunk in body:
                    if not await feed.put(chunk):
                        break  # the extraction ended (done or failed) before the body did
            finally:
                feed.end()

        # not a TaskGroup: the extraction's own error is the answer, and the feeder
        # always ends once the extraction does (its next put is refused)
        feeder = asyncio.create_task(feeding())
        try:
            await _translated(ref, path, asyncio.to_thread(extract))
        finally:
            feed.close()  # also when cancelled: the thread's next take ends its stream
            await feeder
        self._containers.publish(c, "extract-to-dir")


async def _translated(ref: str, path: str, work: Awaitable[T]) -> T:
    """``work``'s result, with OSErrors as docker reports them."""
    try:
        return await work
    except FileNotFoundError as err:
        raise NotFound(f"Could not find the file {path} in container {ref}") from err
    except NotADirectoryError as err:  # "/file/" or "/file/x": lstat's ENOTDIR, as moby
        raise InvalidArgument(f"lstat {path}: not a directory") from err
    except BerthError:
        raise
    except OSError as err:
        raise InvalidArgument(f"{path}: {err.strerror}") from err
