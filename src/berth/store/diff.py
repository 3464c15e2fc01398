"""Apply a tar layer to a directory, and turn an overlay upper dir back into a layer.

A layer is a tar stream (plain, gzip or zstd, told apart by their first bytes)
whose OCI whiteouts are translated for the target::

    layer entry              WhiteoutMode.OVERLAY (upper dir)     WhiteoutMode.DELETE (copy)
    dir/.wh.name             char device 0/0 at dir/name          rm -rf dir/name
    dir/.wh..wh..opq         xattr trusted.overlay.opaque=y       rm -rf earlier dir/*

``WhiteoutMode.NONE`` unpacks a plain archive (a build context, ADD): ``.wh.`` names are
ordinary files; ``ApplyOptions.exclude`` skips entries by name (``.dockerignore``).

Safety invariants, kept for every entry of a hostile stream:
  * a name with a ``..`` component is refused; a leading ``/`` is stripped;
  * parent directories are resolved inside the target as if it were ``/`` (a symlink in a
    parent, absolute or relative, is followed but clamped to the target), and the final
    component is never followed: whatever is there is removed and created anew with
    ``O_EXCL|O_NOFOLLOW``, so no write lands outside the target;
  * hardlink targets are resolved the same way, so ``/etc/passwd`` means the target's;
  * device nodes are created only with ``allow_devices`` as root, else skipped;
  * ``trusted.overlay.*`` xattrs from the stream are dropped (they would steer overlayfs).

The diff_id (sha256 of the uncompressed tar) is computed while streaming.
"""

from __future__ import annotations

import enum
import errno
import gzip
import hashlib
import io
import logging
import os
import shutil
import stat
import tarfile
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol, cast

import zstandard

from berth.errors import InvalidArgument
from berth.oci.image import LAYER_COMPRESSION
from berth.runtime.linux.securejoin import secure_join

log = logging.getLogger(__name__)

WHITEOUT_PREFIX = ".wh."
WHITEOUT_META_PREFIX = ".wh..wh."
WHITEOUT_OPAQUE = ".wh..wh..opq"
OVERLAY_OPAQUE_XATTR = "trusted.overlay.opaque"
_OVERLAY_XATTR_PREFIX = "trusted.overlay."
_PAX_XATTR = "SCHILY.xattr."
_CHUNK = 1 << 20
# tarfile's stream reads: 64 KiB, not its 10 KiB default (fewer joins per file block),
# and not megabytes (each 512-byte header read copies what is left of the buffer)
_IOV_MAX = 512  # buffers per writev (the kernel takes 1024)
_GATHER = 64 << 10  # a layer tar's small writes are handed out in pieces this big
_GZIP_MAGIC = b"\x1f\x8b"
_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_ZSTD_SKIPPABLE_TAIL = b"\x2a\x4d\x18"


class WhiteoutMode(enum.Enum):
    OVERLAY = "overlay"  # the target is an overlay upper dir: write whiteout markers
    DELETE = "delete"  # the target is a full copy: delete for real
    NONE = "none"  # a plain archive (build context, ADD): ``.wh.`` names are ordinary files


@dataclass(frozen=True)
class ApplyOptions:
    whiteouts: WhiteoutMode = WhiteoutMode.DELETE
    allow_devices: bool = False
    exclude: Callable[[str], bool] | None = None  # skip entries whose cleaned name it matches
    digest: bool = True  # False: no diff_id (a build context needs none: one sha256 less)
    # called with each regular file's member and open fd once its data is written
    on_file: Callable[[tarfile.TarInfo, int], None] | None = None


@dataclass(frozen=True)
class ApplyResult:
    diff_id: str  # sha256 of the uncompressed tar stream
    size: int  # bytes of the uncompressed tar stream


class _Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class _HashingReader:
    """Reads through ``source`` and hashes every byte handed out (unless ``hashing`` is
    off: then it only counts them, and hands back ``head`` first)."""

    def __init__(self, source: _Readable, head: bytes = b"", hashing: bool = True) -> None:
        self._source = source
        self._head = head
        self.hash = hashlib.sha256()
        self._hashing = hashing
        self.size = 0

    def read(self, n: int = -1, /) -> bytes:
        if self._head:
            data, self._head = (self._head, b"") if n < 0 or n >= len(self._head) else (
                self._head[:n], self._head[n:])
        else:
            data = self._source.read(n)
        if self._hashing:
            self.hash.update(data)
        self.size += len(data)
        return data

    def seek(self, offset: int, /) -> int:
        raise io.UnsupportedOperation("a layer stream is not seekable")

    def drain(self) -> None:
        while self.read(_CHUNK):
            pass


def compression_of(head: bytes) -> str:
    """The compression of a layer by its first bytes: "gzip", "zstd" or "" (a plain tar)."""
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    # a zstd frame, or a skippable frame (magic 0x184D2A5?) that zstd:chunked starts with
    if head.startswith(_ZSTD_MAGIC) or (len(head) == 4 and head[0] & 0xF0 == 0x50
                                        and head[1:] == _ZSTD_SKIPPABLE_TAIL):
        return "zstd"
    return ""


def decompressed(stream: BinaryIO, media_type: str | None = None) -> _Readable:
    """The uncompressed tar stream of a layer, whatever its compression.

    The bytes decide, as in moby and containerd (``DecompressStream``): registries and
    tools do label plain tars as gzip. A media type that says otherwise is logged; one
    that names no layer type is refused."""
    head = stream.read(4)
    raw = _HashingReader(stream, head, hashing=False)  # pushes the sniffed bytes back
    found = compression_of(head)
    if media_type is not None:
        declared = LAYER_COMPRESSION.get(media_type)
        if declared is None:
            raise InvalidArgument(f"unsupported media type {media_type} for a layer")
        if declared != found:
            log.warning("layer declared as %s is %s", media_type,
                        f"{found}-compressed" if found else "an uncompressed tar")
    if found == "gzip":
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if found == "zstd":
        source = cast(BinaryIO, raw)  # stream_reader only calls read()
        reader: _Readable = zstandard.ZstdDecompressor().stream_reader(
            source, read_across_frames=True)  # zstd:chunked layers are many frames
        return reader
    return raw


class TarInput:
    """A forward-only file over a source of chunks, for ``tarfile``'s ``r:`` mode
    (``read``, ``tell``, forward ``seek``), that also writes a file's data straight from
    the chunks it received (:meth:`copy_to`: ``os.writev``, no copy in Python).

    ``take(want)`` gives the next chunks (blocking until about ``want`` bytes, or fewer
    at the end) and ``[]`` at the end; at most a chunk more than is asked for is held."""

    def __init__(self, take: Callable[[int], list[bytes]]) -> None:
        self._take = take
        self._chunks: deque[memoryview] = deque()
        self._buffered = 0
        self._pos = 0
        self._eof = False

    @classmethod
    def reading(cls, stream: _Readable) -> TarInput:
        """Over a file: ``read`` in blocks."""
        def take(want: int) -> list[bytes]:
            block = stream.read(max(want, _CHUNK))
            return [block] if block else []
        return cls(take)

    def uncompressed(self) -> TarInput:
        """This stream, or a new one over its decompression (gzip, zstd) if compressed."""
        if not compression_of(self.peek(4)):
            return self
        return TarInput.reading(decompressed(self))  # type: ignore[arg-type]

    def _fill(self, n: int) -> None:
        while self._buffered < n and not self._eof:
            got = self._take(n - self._buffered)
            if not got:
                self._eof = True
            for chunk in got:
                if chunk:
                    self._chunks.append(memoryview(chunk))
                    self._buffered += len(chunk)

    def _views(self, n: int, most: int = 1 << 30) -> list[memoryview]:
        """Up to ``n`` buffered bytes (in at most ``most`` pieces), consumed."""
        out: list[memoryview] = []
        while n > 0 and self._chunks and len(out) < most:
            head = self._chunks[0]
            if len(head) <= n:
                out.append(self._chunks.popleft())
            else:
                out.append(head[:n])
                self._chunks[0] = head[n:]
            n -= len(out[-1])
            self._buffered -= len(out[-1])
            self._pos += len(out[-1])
        return out

    def peek(self, n: int) -> bytes:
        self._fill(n)
        data = b"".join(v[:n] for v in list(self._chunks)[:n])  # at most n chunks
        return data[:n]

    def read(self, n: int = -1, /) -> bytes:
        if n < 0:
            parts = []
            while block := self.read(_CHUNK):
                parts.append(block)
            return b"".join(parts)
        self._fill(n)
        views = self._views(n)
        return views[0].tobytes() if len(views) == 1 else b"".join(views)

    def tell(self) -> int:
        return self._pos

    def seek(self, pos: int, whence: int = os.SEEK_SET, /) -> int:
        """Forward only (skipping what is between); past the end stops at the end."""
        if whence == os.SEEK_CUR:
            pos += self._pos
        elif whence != os.SEEK_SET or pos < self._pos:
            raise OSError(errno.ESPIPE, "a tar stream only seeks forward")
        while self._pos < pos:
            self._fill(min(pos - self._pos, _CHUNK))
            if not self._views(pos - self._pos):
                break
        return self._pos

    def copy_to(self, fd: int, size: int) -> None:
        """Write the next ``size`` bytes to ``fd``; EOFError if the stream ends first."""
        while size > 0:
            self._fill(min(size, _CHUNK))
            views = self._views(min(size, _CHUNK), _IOV_MAX)
            if not views:
                raise EOFError("unexpected end of data")
            size -= sum(len(v) for v in views)
            while views:
                written = os.writev(fd, views)
                while views and written >= len(views[0]):
                    written -= len(views.pop(0))
                if views and written:
                    views[0] = views[0][written:]


def apply_layer(stream: BinaryIO, target: Path, options: ApplyOptions,
                media_type: str | None = None) -> ApplyResult:
    """Unpack the layer ``stream`` (of ``media_type``, if known) into ``target``; return
    its diff_id."""
    reader = _HashingReader(decompressed(stream, media_type), hashing=options.digest)
    source = TarInput.reading(reader)
    applier = _Applier(str(target), options, source=source)
    try:
        # "r:" over TarInput: tarfile reads the headers, a file's data is written straight
        # from the chunks read (no copies through tarfile's stream)
        with tarfile.open(fileobj=source, mode="r:") as tf:  # type: ignore[call-overload]
            for member in tf:
                applier.apply(tf, member)
    except (tarfile.TarError, EOFError, OSError, zstandard.ZstdError) as err:
        if isinstance(err, OSError) and not isinstance(err, gzip.BadGzipFile) \
                and err.errno is not None:
            raise
        raise InvalidArgument(f"invalid tar layer: {err}") from err
    applier.finish()
    reader.drain()
    return ApplyResult("sha256:" + reader.hash.hexdigest() if options.digest else "",
                       reader.size)


def apply_tar_file(f: BinaryIO, target: Path, options: ApplyOptions) -> None:
    """Unpack the uncompressed tar file ``f`` (a real, seekable file) into ``target``, as
    ``apply_layer`` does (same path checks), but with random access: headers are read where
    they are, and file data is copied by the kernel (``copy_file_range``) instead of
    through Python."""
    applier = _Applier(str(target), options, source_fd=f.fileno())
    try:
        with tarfile.open(fileobj=f, mode="r:") as tf:
            for member in tf:
                applier.apply(tf, member)
    except (tarfile.TarError, EOFError) as err:
        raise InvalidArgument(f"invalid tar archive: {err}") from err
    applier.finish()


def clean_name(name: str) -> str:
    """A tar member name as a relative path; "" for the root. Refuses ``..``."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise InvalidArgument(f"invalid tar entry {name!r}: path escapes the layer root")
    return "/".join(parts)


def resolve_in_root(root: str, rel: str) -> str:
    """``rel`` under ``root`` with every symlink followed as if ``root`` were ``/``: the
    runtime's ``secure_join`` (one implementation of safe path resolution), with a symlink
    loop reported as a bad layer."""
    try:
        return secure_join(root, rel)
    except OSError as err:
        raise InvalidArgument(f"too many levels of symbolic links resolving {rel!r}") from err


def remove_path(path: str) -> None:
    """Remove whatever is at ``path`` (never following a symlink); no error if absent."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return
    if stat.S_ISDIR(st.st_mode):
        shutil.rmtree(path)
    else:
        os.unlink(path)


class _Applier:
    def __init__(self, root: str, options: ApplyOptions, source_fd: int | None = None,
                 source: TarInput | None = None) -> None:
        self.root = root
        self.options = options
        self.source_fd = source_fd  # the tar file itself, when it is a seekable file
        self.source = source  # or the stream the tar is read from
        self.is_root = os.geteuid() == 0
        self.written: set[str] = set()
        self.dirs: list[tuple[str, tarfile.TarInfo]] = []

    def apply(self, tf: tarfile.TarFile, member: tarfile.TarInfo) -> None:
        rel = clean_name(member.name)
        if not rel:
            if member.isdir():
                self.dirs.append((self.root, member))
            return
        if self.options.exclude is not None and self.options.exclude(rel):
            return
        parent_rel, _, base = rel.rpartition("/")
        parent = resolve_in_root(self.root, parent_rel)
        if base.startswith(WHITEOUT_PREFIX) and self.options.whiteouts is not WhiteoutMode.NONE:
            self._whiteout(parent, base)
            return
        os.makedirs(parent, mode=0o755, exist_ok=True)
        path = os.path.join(parent, base)
        if not self._create(tf, member, path):
            return
        self.written.add(path)
        if member.isdir():
            self.dirs.append((path, member))
        elif not member.islnk():
            self._metadata(path, member)

    def _create(self, tf: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> bool:
        if member.ischr() or member.isblk():
            if not (self.options.allow_devices and self.is_root):
                log.warning("skipping device node %s in layer", member.name)
                return False
        try:
            existing = os.lstat(path)
        except FileNotFoundError:
            existing = None
        if existing is not None and not (member.isdir() and stat.S_ISDIR(existing.st_mode)):
            remove_path(path)
            existing = None
        if member.isdir():
            if existing is None:
                os.mkdir(path, 0o700)
        elif member.isreg():
            self._write_file(tf, member, path)
        elif member.issym():
            os.symlink(member.linkname, path)
        elif member.islnk():
            source = resolve_in_root(self.root, clean_name(member.linkname))
            try:
                os.link(source, path, follow_symlinks=False)
            except FileNotFoundError as err:
                raise InvalidArgument(
                    f"invalid tar entry {member.name!r}: hardlink target "
                    f"{member.linkname!r} does not exist in the layer") from err
        elif member.isfifo():
            os.mkfifo(path, 0o600)
        elif member.ischr() or member.isblk():
            kind = stat.S_IFCHR if member.ischr() else stat.S_IFBLK
            os.mknod(path, kind | 0o600, os.makedev(member.devmajor, member.devminor))
        else:
            log.warning("skipping tar entry %s of unsupported type %r", member.name, member.type)
            return False
        return True

    def _write_file(self, tf: tarfile.TarFile, member: tarfile.TarInfo, path: str) -> None:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
                     0o600)
        with os.fdopen(fd, "wb") as out:
            if self.source_fd is not None and not member.sparse:
                _copy_range(self.source_fd, fd, member.offset_data, member.size)
            elif self.source is not None and not member.sparse:
                if self.source.tell() != member.offset_data:
                    self.source.seek(member.offset_data)
                self.source.copy_to(fd, member.size)
            else:
                src = tf.extractfile(member)
                if src is not None:
                    shutil.copyfileobj(src, out, _CHUNK)
            if self.options.on_file is not None:
                out.flush()
                self.options.on_file(member, fd)

    def _metadata(self, path: str, member: tarfile.TarInfo) -> None:
        if self.is_root:
            os.chown(path, member.uid, member.gid, follow_symlinks=False)
        if not member.issym():
            os.chmod(path, member.mode & 0o7777)
        for key, value in member.pax_headers.items():
            if key.startswith(_PAX_XATTR):
                self._setxattr(path, key[len(_PAX_XATTR):], value)
        mtime = int(member.mtime * 1_000_000_000)
        os.utime(path, ns=(mtime, mtime), follow_symlinks=False)

    def _setxattr(self, path: str, name: str, value: str) -> None:
        if name.startswith(_OVERLAY_XATTR_PREFIX):
            log.warning("dropping xattr %s on %s from layer", name, path)
            return
        try:
            os.setxattr(path, name, value.encode("utf-8", "surrogateescape"),
                        follow_symlinks=False)
        except OSError as err:
            log.warning("cannot set xattr %s on %s: %s", name, path, err)

    def _whiteout(self, parent: str, base: str) -> None:
        overlay = self.options.whiteouts is WhiteoutMode.OVERLAY
        if base == WHITEOUT_OPAQUE:
            os.makedirs(parent, mode=0o755, exist_ok=True)
            if overlay:
                os.setxattr(parent, OVERLAY_OPAQUE_XATTR, b"y")
            else:
                for entry in os.scandir(parent):
                    if entry.path not in self.written:
                        remove_path(entry.path)
            return
        if base.startswith(WHITEOUT_META_PREFIX):
            return  # aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs): nothing to apply
        path = os.path.join(parent, base[len(WHITEOUT_PREFIX):])
        remove_path(path)
        if overlay:
            os.makedirs(parent, mode=0o755, exist_ok=True)
            os.mknod(path, stat.S_IFCHR | 0o600, os.makedev(0, 0))

    def finish(self) -> None:
        """Directory modes and mtimes last, deepest first: writing children changes both."""
        for path, member in reversed(self.dirs):
            self._metadata(path, member)


def _copy_range(src: int, dst: int, offset: int, size: int) -> None:
    while size > 0:
        done = os.copy_file_range(src, dst, size, offset)
        if done == 0:
            raise InvalidArgument("invalid tar archive: a file's data is cut short")
        offset += done
        size -= done


class _ChunkSink:
    """A write-only file whose bytes are collected for a generator to hand out: small
    writes (headers, padding, small files) gathered into pieces of ``_GATHER`` bytes, a
    big one handed out as it is; ``tell`` for a non-stream ``TarFile``."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._small = bytearray()
        self.pos = 0

    def write(self, data: bytes) -> int:
        n = len(data)
        self.pos += n
        if n >= _GATHER:
            self._gathered()
            self._chunks.append(bytes(data))
        else:
            self._small += data
            if len(self._small) >= _GATHER:
                self._gathered()
        return n

    def tell(self) -> int:
        return self.pos

    def _gathered(self) -> None:
        if self._small:
            self._chunks.append(bytes(self._small))
            self._small.clear()

    def drain(self, final: bool = False) -> Iterator[bytes]:
        if final:
            self._gathered()
        chunks, self._chunks = self._chunks, []
        yield from chunks


def _walk(root: str, rel: str = "") -> Iterator[tuple[str, os.DirEntry[str]]]:
    """Entries under ``root`` in name order, each directory before its contents."""
    with os.scandir(os.path.join(root, rel)) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        entry_rel = f"{rel}/{entry.name}" if rel else entry.name
        yield entry_rel, entry
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(root, entry_rel)


def _xattrs(path: str) -> dict[str, bytes]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    return {n: os.getxattr(path, n, follow_symlinks=False) for n in names}


def write_diff(upper: Path) -> Iterator[bytes]:
    """A layer tar (uncompressed, PAX) of an overlay upper dir, with whiteouts in OCI form."""
    sink = _ChunkSink()
    # "w" (not "w|"): headers go straight to the sink, and a file's data after them
    tf = tarfile.open(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT)  # type: ignore[call-overload]
    for rel, entry in _walk(str(upper)):
        st = entry.stat(follow_symlinks=False)
        parent, _, name = rel.rpartition("/")
        prefix = f"{parent}/" if parent else ""
        if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
            tf.addfile(_marker(prefix + WHITEOUT_PREFIX + name, int(st.st_mtime)))
        else:
            info = _tarinfo(tf, entry.path, rel)
            if info.isreg():  # streamed: a big file never sits whole in the sink
                with os.fdopen(open_regular(entry.path), "rb") as f:
                    tf.addfile(info)  # the header alone; the data follows
                    yield from _file_data(tf, f, info.size, sink)
            else:
                tf.addfile(info)
            if entry.is_dir(follow_symlinks=False) and \
                    _xattrs(entry.path).get(OVERLAY_OPAQUE_XATTR) == b"y":
                tf.addfile(_marker(f"{rel}/{WHITEOUT_OPAQUE}", int(st.st_mtime)))
        yield from sink.drain()
    tf.close()
    yield from sink.drain(final=True)


def _file_data(tf: tarfile.TarFile, f: BinaryIO, size: int, sink: _ChunkSink
               ) -> Iterator[bytes]:
    """The data of the member whose header ``tf`` just wrote, in 1 MiB pieces straight
    into the sink, padded to a block, as ``TarFile.addfile`` would copy it."""
    left = size
    while left:
        chunk = f.read(min(left, 1 << 20))
        if not chunk:
            raise OSError("unexpected end of data: a file shrank while it was read")
        sink.write(chunk)
        left -= len(chunk)
        yield from sink.drain()
    blocks, remainder = divmod(size, tarfile.BLOCKSIZE)
    if remainder:
        sink.write(tarfile.NUL * (tarfile.BLOCKSIZE - remainder))
        blocks += 1
    tf.offset += blocks * tarfile.BLOCKSIZE
    yield from sink.drain()


def _marker(name: str, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.mode, info.mtime, info.size = 0o644, mtime, 0
    return info


def open_regular(path: str, dir_fd: int | None = None) -> int:
    """A read-only fd of the regular file at ``path``, never following a final symlink
    and never opening anything else: a link, FIFO or device put there since the caller's
    lstat (by a running container) is refused, not opened (EINVAL; EISDIR for a dir)."""
    handle = os.open(path, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=dir_fd)
    try:
        mode = os.fstat(handle).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(errno.EISDIR, "is a directory", path)
        if not stat.S_ISREG(mode):
            raise OSError(errno.EINVAL, "not a regular file", path)
        return os.open(f"/proc/self/fd/{handle}", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        os.close(handle)


def add_path(tf: tarfile.TarFile, path: str, rel: str) -> None:
    """Add the file at ``path`` as ``rel`` the way a layer carries it: xattrs (not
    overlay's own), no owner names, a hardlink for an inode ``tf`` already holds."""
    _add_entry(tf, path, rel, os.lstat(path))


def _tarinfo(tf: tarfile.TarFile, path: str, rel: str) -> tarfile.TarInfo:
    """``path``'s header as a layer carries it: xattrs (not overlay's own), no owner
    names, a hardlink for an inode ``tf`` already holds."""
    info = tf.gettarinfo(path, arcname=rel)
    info.uname = info.gname = ""
    info.pax_headers = {
        _PAX_XATTR + name: value.decode("utf-8", "surrogateescape")
        for name, value in _xattrs(path).items()
        if not name.startswith(_OVERLAY_XATTR_PREFIX)
    }
    return info


def _add_entry(tf: tarfile.TarFile, path: str, rel: str, st: os.stat_result) -> None:
    info = _tarinfo(tf, path, rel)
    if info.isreg():
        with os.fdopen(open_regular(path), "rb") as f:
            tf.addfile(info, f)
    else:
        tf.addfile(info)

