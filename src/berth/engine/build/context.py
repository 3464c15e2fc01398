"""The build context: the request body of ``POST /build``, unpacked for the builder.

The body is a tar stream (plain, gzip, bzip2 or xz). It is never held in memory: it is
spooled to ``<workdir>.tar`` (a megabyte at a time, from a worker thread) and then
unpacked from there::

    chunks ──▶ <workdir>.tar ──▶ plain: apply_tar_file (headers read in place, file data
                                 copied by the kernel with copy_file_range)
                                 compressed: decompress ──▶ apply_layer (tarfile "r|")
                                 (store/diff.py either way: no "..", symlinked parents
                                  resolved inside the root, O_EXCL|O_NOFOLLOW)

Spooling first, rather than unpacking while the upload arrives, costs one sequential
write and saves handing every chunk between the event loop and a thread; a plain tar
(what the docker and berth CLIs send) then unpacks at the speed of the disk. The spool is
removed when unpacking ends, whatever happens; a failed upload or bad tar removes the
half-built tree too.

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
from berth.store.diff import ApplyOptions, WhiteoutMode, apply_layer, apply_tar_file

DOCKERIGNORE = ".dockerignore"
DEFAULT_DOCKERFILE = "Dockerfile"
_SPOOL_BATCH = 1 << 20
_GZIP_MAGIC = b"\x1f\x8b"
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


async def receive_context(chunks: AsyncIterator[bytes], workdir: Path,
                          dockerfile: str = DEFAULT_DOCKERFILE) -> BuildContext:
    """Unpack the tar stream ``chunks`` into ``workdir`` (created if missing)."""
    workdir.mkdir(parents=True, exist_ok=True)
    spool = workdir.with_name(workdir.name + ".tar")
    try:
        await _spool(chunks, spool)
        await asyncio.to_thread(_Unpacker(workdir, dockerfile).unpack, spool)
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, workdir, True)
        raise
    finally:
        spool.unlink(missing_ok=True)
    return BuildContext(workdir)


async def _spool(chunks: AsyncIterator[bytes], spool: Path) -> None:
    """Write the upload to ``spool``, a megabyte at a time from a worker thread."""
    with open(spool, "wb") as f:
        batch: list[bytes] = []
        size = 0
        async for chunk in chunks:
            batch.append(chunk)
            size += len(chunk)
            if size >= _SPOOL_BATCH:
                await asyncio.to_thread(f.write, b"".join(batch))
                batch, size = [], 0
        if batch:
            await asyncio.to_thread(f.write, b"".join(batch))


class _Unpacker:
    """Extracts the stream; applies ``.dockerignore`` from the entry after it on."""

    def __init__(self, root: Path, dockerfile: str) -> None:
        self.root = root
        self.dockerfile = dockerfile
        self.ignore: DockerIgnore | None = None
        self._ignore_written = False  # .dockerignore was the last entry extracted
        self._unfiltered = False  # entries were extracted before .dockerignore was read

    def unpack(self, spool: Path) -> None:
        options = ApplyOptions(whiteouts=WhiteoutMode.NONE, exclude=self._excluded,
                               digest=False)
        with open(spool, "rb") as f:
            head = f.read(6)
            f.seek(0)
            if head.startswith(_BZIP2_MAGIC):
                apply_layer(cast(BinaryIO, bz2.BZ2File(f)), self.root, options)
            elif head.startswith(_XZ_MAGIC):
                apply_layer(cast(BinaryIO, lzma.LZMAFile(f)), self.root, options)
            elif head.startswith(_GZIP_MAGIC):
                apply_layer(f, self.root, options)  # apply_layer sniffs gzip itself
        if not head.startswith((_BZIP2_MAGIC, _XZ_MAGIC, _GZIP_MAGIC)):
            apply_tar_file(spool, self.root, options)  # the usual case: the kernel copies
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
