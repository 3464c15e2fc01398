"""The build context: the request body of ``POST /build``, unpacked for the builder.

The body is a tar stream (plain, gzip, bzip2 or xz). It is never held in memory: it is
spooled to ``<workdir>.tar`` (a megabyte at a time, from a worker thread) and then
unpacked from there::

    chunks ──▶ <workdir>.tar ──▶ plain: apply_tar_file (headers read in place, file data
                                 copied by the kernel with copy_file_range)
                                 compressed: decompress ──▶ apply_layer (tarfile "r|",
                                 the files hashed as they pass)
                                 (store/diff.py either way: no "..", symlinked parents
                                  resolved inside the root, O_EXCL|O_NOFOLLOW)

Spooling first, rather than unpacking while the upload arrives, costs one sequential
write and saves handing every chunk between the event loop and a thread; a plain tar
(what the docker and berth CLIs send) then unpacks at the speed of the disk. The spool is
removed when unpacking ends, whatever happens; a failed upload or bad tar removes the
half-built tree too.

``.dockerignore`` (in the context's root) is applied here too: entries it excludes are
skipped while extracting once it has been seen (the berth CLI sends it first) and removed
afterwards otherwise (the clients filter already; dockerd leaves a raw tar, ``docker
build - < ctx.tar``, unfiltered, Berth does not).
``.dockerignore`` and the Dockerfile are kept for the builder even when excluded, as the
clients send them, and leave the context once the Dockerfile is read
(:meth:`BuildContext.take_dockerfile`, moby's ``removeDockerfile``), so ``COPY .`` sees
neither. That is also how a Dockerfile from outside the context (``docker build -f
/elsewhere/Dockerfile``), which the client adds as ``.dockerfile.<hex>`` and lists in the
``.dockerignore`` it sends, leaves no trace.

The docker CLI sends that context without the padding of its last entry and without the
end-of-archive blocks (its ``ReplaceFileTarWrapper``); Go's tar reader accepts a stream
that ends right after a member's data, so this one completes it (:meth:`TarDigests.trailer`).
"""

from __future__ import annotations

import asyncio
import bz2
import errno
import gzip
import hashlib
import lzma
import os
import shutil
import stat
import tarfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, cast

from berth.engine.builder.contextcache import Generation, Manifest, link_reused
from berth.errors import InvalidArgument, NotFound
from berth.formats.dockerignore import DockerIgnore, clean
from berth.store.diff import ApplyOptions, WhiteoutMode, apply_layer, apply_tar_file
from berth.store.rootview import secure_join

DOCKERIGNORE = ".dockerignore"
DEFAULT_DOCKERFILE = "Dockerfile"
_SPOOL_BATCH = 1 << 20
BLOCK = 512
_GZIP_MAGIC = b"\x1f\x8b"
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"


class BuildContext:
    """An unpacked build context at ``root``; ``digests`` holds the sha256 of its regular
    files' contents by (st_dev, st_ino), hashed while the upload was spooled, so COPY's
    cache key needs no second read of the files (``copy_checksum``'s ``known``)."""

    def __init__(self, root: Path, digests: dict[tuple[int, int], str] | None = None,
                 ignore: DockerIgnore | None = None) -> None:
        self.root = root
        self.digests = digests if digests is not None else {}
        self.ignore = ignore  # the context's .dockerignore, as written

    def take_dockerfile(self, name: str = DEFAULT_DOCKERFILE) -> bytes:
        """The Dockerfile's bytes; then the Dockerfile and ``.dockerignore`` are removed
        from the context when ``.dockerignore`` excludes them (moby's
        ``removeDockerfile``: the client sent them only for the builder to read)."""
        source = self.dockerfile(name)
        if self.ignore is not None:
            for rel in (DOCKERIGNORE, clean(name or DEFAULT_DOCKERFILE).lstrip("/")):
                if self.ignore.match(rel):
                    _remove_file(self.root, rel)
        return source

    def dockerfile(self, name: str = DEFAULT_DOCKERFILE) -> bytes:
        """The Dockerfile's bytes; ``name`` is relative to the context root (symlinks in
        it are followed inside the context)."""
        rel = name.lstrip("/") or DEFAULT_DOCKERFILE
        try:
            path = secure_join(str(self.root), rel)
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as err:
            raise NotFound(f"Cannot locate specified Dockerfile: {name}") from err
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise NotFound(f"Cannot locate specified Dockerfile: {name}")
        with os.fdopen(fd, "rb") as f:
            return f.read()

    def cleanup(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def _remove_file(root: Path, rel: str) -> None:
    """Unlink ``rel`` (its parents resolved inside ``root``, the last component not
    followed), keeping its directory's mtime as the tar set it."""
    head, _, name = rel.rpartition("/")
    try:
        parent = secure_join(str(root), head) if head else str(root)
        st = os.stat(parent)
        os.unlink(os.path.join(parent, name))
    except FileNotFoundError:
        return
    os.utime(parent, ns=(st.st_atime_ns, st.st_mtime_ns))


async def receive_context(chunks: AsyncIterator[bytes], workdir: Path,
                          dockerfile: str = DEFAULT_DOCKERFILE,
                          reuse: tuple[Manifest, Generation] | None = None) -> BuildContext:
    """Unpack the tar stream ``chunks`` into ``workdir`` (created if missing); then, with
    ``reuse``, link in the files the manifest takes from that kept context."""
    workdir.mkdir(parents=True, exist_ok=True)
    spool = workdir.with_name(workdir.name + ".tar")
    hashes = TarDigests()
    unpacker = _Unpacker(workdir, dockerfile, hashes)

    def unpack() -> None:
        unpacker.unpack(spool)
        if reuse is not None:
            unpacker.digests.update(link_reused(*reuse, workdir, unpacker.excludes))

    try:
        await _spool(chunks, spool, hashes)
        await asyncio.to_thread(unpack)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, workdir, True)
        raise
    finally:
        spool.unlink(missing_ok=True)
    return BuildContext(workdir, unpacker.digests, unpacker.patterns)


async def _spool(chunks: AsyncIterator[bytes], spool: Path, hashes: TarDigests) -> None:
    """Write the upload to ``spool``, a megabyte at a time from a worker thread that also
    hashes the files in it (hashlib drops the GIL: this overlaps with the upload)."""

    def write(f: BinaryIO, data: bytes) -> None:
        f.write(data)
        hashes.feed(data)

    def finish(f: BinaryIO) -> None:
        f.write(hashes.trailer())

    with open(spool, "wb") as f:
        batch: list[bytes] = []
        size = 0
        async for chunk in chunks:
            batch.append(chunk)
            size += len(chunk)
            if size >= _SPOOL_BATCH:
                await asyncio.to_thread(write, f, b"".join(batch))
                batch, size = [], 0
        if batch:
            await asyncio.to_thread(write, f, b"".join(batch))
        await asyncio.to_thread(finish, f)


class TarDigests:
    """The sha256 of each regular file's data in a plain tar stream fed piece by piece,
    keyed by where that data starts in the stream (tarfile's ``offset_data``), with the
    size it was hashed for. Only a hint: the unpacker uses a digest only for a member at
    that very offset with that very size, and a stream this reader does not follow (a
    PAX ``size`` override, sparse files, compression) switches it off. (A compressed
    context is followed again as it is decompressed, by :class:`_Completed`.)"""

    _REGULAR = (b"0", b"\0", b"7")
    _META = (b"x", b"g", b"L", b"K")  # their data describes the next member
    _MAX_META = 1 << 20

    def __init__(self) -> None:
        self.digests: dict[int, tuple[int, str]] = {}
        self.usable = True
        self._offset = 0  # stream offset of the next byte fed
        self._header = bytearray()
        self._left = 0  # data bytes of the current member still to come
        self._pad = 0  # padding after them
        self._hash: hashlib._Hash | None = None
        self._meta: bytearray | None = None
        self._start = 0
        self._size = 0
        self._ended = False  # an end-of-archive block went by

    def trailer(self) -> bytes:
        """What the stream fed so far lacks to be a whole tar when it stopped right
        after a member's data, as the docker CLI's does for ``-f`` outside the context:
        that data's padding and the two end-of-archive blocks. Empty for a whole tar, or
        one cut inside a file's data (which tarfile refuses); one cut inside a header
        (which tarfile would take for the end) is refused here, as Go's reader does."""
        if not self.usable or self._ended or self._left or not self._offset:
            return b""
        if self._header:
            raise InvalidArgument("invalid tar archive: unexpected end of data in a header")
        return b"\0" * (self._pad + 2 * BLOCK)

    def feed(self, data: bytes) -> None:
        view, i, n = memoryview(data), 0, len(data)
        if self._offset == 0 and data.startswith((_GZIP_MAGIC, _BZIP2_MAGIC, _XZ_MAGIC)):
            self.usable = False  # compressed: offsets of the tar inside are not these
        while i < n and self.usable:
            if self._left:
                take = min(self._left, n - i)
                if self._hash is not None:
                    self._hash.update(view[i:i + take])
                elif self._meta is not None:
                    self._meta += view[i:i + take]
                i += take
                self._left -= take
                if not self._left:
                    self._member_done()
            elif self._pad:
                take = min(self._pad, n - i)
                i += take
                self._pad -= take
            else:
                take = min(BLOCK - len(self._header), n - i)
                self._header += view[i:i + take]
                i += take
                if len(self._header) == BLOCK:
                    self._on_header(bytes(self._header), self._offset + i)
                    self._header.clear()
        self._offset += n
        if not self.usable:
            self.digests.clear()

    def _on_header(self, block: bytes, data_offset: int) -> None:
        if not block.strip(b"\0"):
            self._ended = True  # an end-of-archive block
            return
        kind = block[156:157]
        size = _tar_number(block[124:136])
        if size is None or kind == b"S":
            self.usable = False
            return
        if kind in self._REGULAR:
            self._hash = hashlib.sha256()
        elif kind in self._META:
            if size > self._MAX_META:
                self.usable = False
                return
            self._meta = bytearray()
        elif kind in (b"1", b"2", b"3", b"4", b"5", b"6"):
            size = 0  # tarfile reads no data for these, whatever their size field says
        self._start, self._size, self._left = data_offset, size, size
        self._pad = -size % BLOCK
        if not size:
            self._member_done()

    def _member_done(self) -> None:
        if self._hash is not None:
            self.digests[self._start] = (self._size, self._hash.hexdigest())
        elif self._meta is not None and b" size=" in self._meta:
            self.usable = False
        self._hash, self._meta = None, None


class _Completed:
    """A decompressed context, followed as it is read (:class:`TarDigests`: the digests
    come along) and completed at its end with what it lacks (:meth:`TarDigests.trailer`;
    ``docker build --compress`` compresses the tar its CLI cut short)."""

    def __init__(self, raw: BinaryIO) -> None:
        self.raw = raw
        self.follower = TarDigests()
        self._tail: bytes | None = None  # once the stream has ended: the trailer left

    def read(self, n: int = -1, /) -> bytes:
        if self._tail is None:
            data = self.raw.read(n)
            if data:
                self.follower.feed(data)
                return data
            self._tail = self.follower.trailer()
        data, self._tail = ((self._tail, b"") if n < 0 else
                            (self._tail[:n], self._tail[n:]))
        return data


def _tar_number(field: bytes) -> int | None:
    """A numeric header field: octal text, or base-256 when the top bit is set."""
    if field[0] & 0x80:
        return int.from_bytes(field[1:], "big") if field[0] == 0x80 else None
    text = field.split(b"\0", 1)[0].strip()
    try:
        return int(text, 8) if text else 0
    except ValueError:
        return None


class _Unpacker:
    """Extracts the stream; applies ``.dockerignore`` from the entry after it on."""

    def __init__(self, root: Path, dockerfile: str, hashes: TarDigests) -> None:
        self.root = root
        self.dockerfile = dockerfile
        self.hashes = hashes
        self.digests: dict[tuple[int, int], str] = {}
        self.patterns: DockerIgnore | None = None  # .dockerignore as written
        self.ignore: DockerIgnore | None = None  # those, keeping the build's own files
        self._ignore_written = False  # .dockerignore was the last entry extracted
        self._unfiltered = False  # entries were extracted before .dockerignore was read

    def unpack(self, spool: Path) -> None:
        options = ApplyOptions(whiteouts=WhiteoutMode.NONE, exclude=self._excluded,
                               digest=False, on_file=self._written)
        with open(spool, "rb") as f:
            head = f.read(6)
            f.seek(0)
            raw: BinaryIO | None = None
            if head.startswith(_BZIP2_MAGIC):
                raw = cast(BinaryIO, bz2.BZ2File(f))
            elif head.startswith(_XZ_MAGIC):
                raw = cast(BinaryIO, lzma.LZMAFile(f))
            elif head.startswith(_GZIP_MAGIC):
                raw = cast(BinaryIO, gzip.GzipFile(fileobj=f, mode="rb"))
            if raw is None:
                apply_tar_file(f, self.root, options)  # the usual case: the kernel copies
            else:
                stream = _Completed(raw)
                self.hashes = stream.follower  # offsets in the decompressed stream
                apply_layer(cast(BinaryIO, stream), self.root, options)
        if self.ignore is None:
            self._load_ignore()
        ignore = self.ignore
        if ignore is not None and self._unfiltered:
            prune(self.root, ignore)

    def _written(self, member: tarfile.TarInfo, fd: int) -> None:
        known = self.hashes.digests.get(member.offset_data)
        if known is not None and known[0] == member.size:  # (emptied if not usable)
            st = os.fstat(fd)
            self.digests[(st.st_dev, st.st_ino)] = known[1]

    def excludes(self, rel: str) -> bool:
        """Whether ``.dockerignore`` excludes ``rel`` (once the tar is unpacked)."""
        return self.ignore is not None and self.ignore.match(rel)

    def _excluded(self, rel: str) -> bool:
        if self._ignore_written:
            self._ignore_written = False
            self._load_ignore()
        if rel == DOCKERIGNORE:
            self._ignore_written = True
            return False
        if self.ignore is None:
            self._unfiltered = True
            return False
        return self.ignore.match(rel)

    def _load_ignore(self) -> None:
        try:
            with open(self.root / DOCKERIGNORE, "rb") as f:
                content = f.read()
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
                return
            raise
        self.patterns = DockerIgnore.parse(content)
        self.ignore = self.patterns.for_build(self.dockerfile)


def prune(root: Path, ignore: DockerIgnore) -> None:
    """Remove what ``ignore`` excludes from the unpacked tree at ``root``."""

    def walk(rel: str) -> None:
        with os.scandir(root / rel if rel else root) as it:
            entries = list(it)
        for entry in entries:
            path = f"{rel}/{entry.name}" if rel else entry.name
            is_dir = entry.is_dir(follow_symlinks=False)
            if ignore.match(path):
                if not is_dir:
                    os.unlink(entry.path)
                    continue
                if not ignore.must_descend(path):
                    shutil.rmtree(entry.path)
                    continue
            if is_dir:
                walk(path)

    walk("")
