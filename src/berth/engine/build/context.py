"""The build context: the request body of ``POST /build``, unpacked for the builder.

The body is a tar stream (plain, gzip, bzip2 or xz). It is never held in memory::

    event loop                         worker thread
    chunks ──▶ asyncio.Queue(8) ──▶ _QueueReader.read() ──▶ decompress ──▶ tarfile "r|"
                                                                           │
                                       apply_layer(WhiteoutMode.NONE) ◀────┘
                                       (store/diff.py: no "..", symlinked parents
                                        resolved inside the root, O_EXCL|O_NOFOLLOW)

The bounded queue is the back-pressure: a slow disk slows the upload, it does not fill
memory. Either side failing stops the other: a bad tar cancels the upload, a broken
upload (or a cancelled request) makes the reader raise.

``.dockerignore`` (in the context's root) is applied here too, as dockerd does: entries
it excludes are skipped while extracting once it has been seen (the berth CLI sends it
first) and removed afterwards otherwise. ``.dockerignore`` and the Dockerfile are always
kept for the builder.
"""

from __future__ import annotations

import asyncio
import bz2
import errno
import lzma
import os
import shutil
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import BinaryIO, cast

from berth.api.types.dockerignore import DockerIgnore
from berth.errors import NotFound
from berth.runtime.linux.securejoin import secure_join
from berth.store.diff import ApplyOptions, WhiteoutMode, apply_layer

DOCKERIGNORE = ".dockerignore"
DEFAULT_DOCKERFILE = "Dockerfile"
_QUEUE_DEPTH = 8
_BZIP2_MAGIC = b"BZh"
_XZ_MAGIC = b"\xfd7zXZ\x00"


class BuildContext:
    """An unpacked build context at ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root

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


class _Aborted(Exception):
    """The upload ended abnormally; the reader stops."""


class _QueueReader:
    """A blocking file-like ``read`` over chunks an event loop puts in a queue.

    tarfile reads in small pieces (headers, 16 KiB blocks) from megabyte chunks: the
    buffer is consumed by moving an offset, and compacted only when a chunk arrives, so
    every byte is copied once rather than once per read."""

    def __init__(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]
                 ) -> None:
        self._loop = loop
        self._queue = queue
        self._buffer = bytearray()
        self._pos = 0
        self._eof = False
        self.aborted = False

    def read(self, n: int = -1, /) -> bytes:
        while not self._eof and (n < 0 or len(self._buffer) - self._pos < n):
            if self.aborted:
                raise _Aborted("the build context upload was interrupted")
            chunk = asyncio.run_coroutine_threadsafe(self._queue.get(), self._loop).result()
            if chunk is None:
                if self.aborted:
                    raise _Aborted("the build context upload was interrupted")
                self._eof = True
            else:
                del self._buffer[:self._pos]
                self._pos = 0
                self._buffer += chunk
                if n < 0:
                    continue
                break
        end = len(self._buffer) if n < 0 else min(len(self._buffer), self._pos + n)
        data = bytes(self._buffer[self._pos:end])
        self._pos = end
        return data


async def receive_context(chunks: AsyncIterator[bytes], workdir: Path,
                          dockerfile: str = DEFAULT_DOCKERFILE) -> BuildContext:
    """Unpack the tar stream ``chunks`` into ``workdir`` (created if missing)."""
    workdir.mkdir(parents=True, exist_ok=True)
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue(_QUEUE_DEPTH)
    reader = _QueueReader(loop, queue)
    unpacker = _Unpacker(workdir, dockerfile)

    async def upload() -> None:
        try:
            async for chunk in chunks:
                if chunk:
                    await queue.put(chunk)
        except BaseException:
            reader.aborted = True
            if not queue.full():
                queue.put_nowait(None)
            raise
        await queue.put(None)

    try:
        async with asyncio.TaskGroup() as tg:
            tg.create_task(upload())
            tg.create_task(asyncio.to_thread(unpacker.unpack, reader))
    except BaseExceptionGroup as group:
        reader.aborted = True
        shutil.rmtree(workdir, ignore_errors=True)
        raise _first(group) from None
    except BaseException:
        reader.aborted = True
        shutil.rmtree(workdir, ignore_errors=True)
        raise
    return BuildContext(workdir)


def _first(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The error that matters: the unpacker's (a bad tar) over the upload's."""
    leaves: list[BaseException] = []

    def collect(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                collect(inner)
        else:
            leaves.append(exc)

    collect(group)
    return next((e for e in leaves if not isinstance(e, _Aborted)), leaves[0])


class _Unpacker:
    """Extracts the stream; applies ``.dockerignore`` from the entry after it on."""

    def __init__(self, root: Path, dockerfile: str) -> None:
        self.root = root
        self.dockerfile = dockerfile
        self.ignore: DockerIgnore | None = None
        self._ignore_written = False  # .dockerignore was the last entry extracted
        self._unfiltered = False  # entries were extracted before .dockerignore was read

    def unpack(self, reader: _QueueReader) -> None:
        apply_layer(_decompressed(reader), self.root,
                    ApplyOptions(whiteouts=WhiteoutMode.NONE, exclude=self._excluded))
        ignore = self.ignore or self._load_ignore()
        if ignore is not None and self._unfiltered:
            prune(self.root, ignore)

    def _excluded(self, rel: str) -> bool:
        if self._ignore_written:
            self._ignore_written = False
            self.ignore = self._load_ignore()
        if rel == DOCKERIGNORE:
            self._ignore_written = True
            return False
        if self.ignore is None:
            self._unfiltered = True
            return False
        return self.ignore.match(rel)

    def _load_ignore(self) -> DockerIgnore | None:
        try:
            with open(self.root / DOCKERIGNORE, "rb") as f:
                content = f.read()
        except OSError as err:
            if err.errno in (errno.ENOENT, errno.ENOTDIR, errno.EISDIR):
                return None
            raise
        return DockerIgnore.parse(content).for_build(self.dockerfile)


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


def _decompressed(reader: _QueueReader) -> BinaryIO:
    head = reader.read(6)
    source = cast(BinaryIO, _Prefixed(head, reader))  # read() is all tarfile needs
    if head.startswith(_BZIP2_MAGIC):
        return cast(BinaryIO, bz2.BZ2File(source))
    if head.startswith(_XZ_MAGIC):
        return cast(BinaryIO, lzma.LZMAFile(source))
    return source  # plain, or gzip (apply_layer sniffs that itself)


class _Prefixed:
    """``reader`` with ``head`` (already read to sniff the compression) put back."""

    def __init__(self, head: bytes, reader: _QueueReader) -> None:
        self._head = head
        self._reader = reader

    def read(self, n: int = -1, /) -> bytes:
        if not self._head:
            return self._reader.read(n)
        if n < 0:
            data, self._head = self._head + self._reader.read(), b""
            return data
        data, self._head = self._head[:n], self._head[n:]
        return data

    def readable(self) -> bool:
        return True
