"""Blob storage by digest (containerd ``core/content/local``).

::

    content/
      blobs/sha256/<hex>      committed, verified, read-only
      ingest/tmp-<random>     an anonymous write (import, a manifest): discarded if left
      ingest/<hex>            a resumable download of blob sha256:<hex>; held with flock
                              while a writer has it, so two pulls never append to one file

A resumable ingest survives its writer being killed (every byte written went to the file,
so the file is a prefix of what was sent). ``resume`` hashes that prefix first and the
writer carries on after it, so the digest checked at commit covers the whole blob.
``cleanup`` at start-up drops anonymous ingests and resumable ones older than a day.
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from berth.errors import BerthError, InvalidArgument, NotFound
from berth.oci import digest as digests

log = logging.getLogger(__name__)

INGEST_MAX_AGE = 24 * 3600.0  # seconds a resumable ingest is kept without being written
_ANONYMOUS_PREFIX = "tmp-"
_HASH_CHUNK = 1 << 20
_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True)
class Info:
    digest: str
    size: int


class Writer:
    """One ingest: ``write`` bytes, then ``commit`` (verify, fsync, rename), ``abort``
    (discard) or ``close`` (keep a resumable ingest for later).

    Use as a context manager; leaving the block without commit aborts the ingest.
    """

    def __init__(self, store: ContentStore, expected: str | None, size: int | None,
                 resumable: bool = False) -> None:
        self._store = store
        self._expected = digests.validate(expected) if expected is not None else None
        self._expected_size = size
        self._hash = hashlib.sha256()
        self._written = 0
        self._resumable = False  # close() leaves the ingest for a later resume
        self._committed = False
        self._file: BinaryIO | None = None
        if resumable and self._expected is not None:
            self._file = self._open_resumable(digests.hex_part(self._expected))
        if self._file is None:
            self._path = store.ingest_dir / (_ANONYMOUS_PREFIX + secrets.token_hex(16))
            self._file = open(self._path, "xb")
        self._offset = self._written

    def _open_resumable(self, name: str) -> BinaryIO | None:
        """The ingest ``name``, locked and positioned after its bytes (hashed); None if
        another writer holds it."""
        path = self._store.ingest_dir / name
        f = open(path, "a+b")
        try:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            f.close()
            if err.errno in (errno.EAGAIN, errno.EACCES):
                return None
            raise
        try:
            size = os.fstat(f.fileno()).st_size
            if self._expected_size is not None and size > self._expected_size:
                f.truncate(0)  # not a prefix of this blob
                size = 0
            f.seek(0)
            while chunk := f.read(_HASH_CHUNK):
                self._hash.update(chunk)
            self._written = f.tell()
            if self._written != size:
                raise BerthError(f"ingest {name}: read {self._written} of {size} bytes")
        except BaseException:
            f.close()
            raise
        self._path = path
        self._resumable = True
        return f

    @property
    def offset(self) -> int:
        """Bytes already in the ingest when the writer was opened or last reset: a
        download resumes after them."""
        return self._offset

    def reset(self) -> None:
        """Discard what the ingest holds and start again from byte 0."""
        if self._file is None:
            raise BerthError("reset of a closed content writer")
        self._file.truncate(0)
        self._file.seek(0)
        self._hash = hashlib.sha256()
        self._written = self._offset = 0

    @property
    def written(self) -> int:
        return self._written

    def write(self, data: bytes) -> int:
        if self._file is None:
            raise BerthError("write to a closed content writer")
        self._file.write(data)
        self._hash.update(data)
        self._written += len(data)
        return len(data)

    def digest(self) -> str:
        """The digest of what has been written so far."""
        return "sha256:" + self._hash.hexdigest()

    def commit(self) -> Info:
        """Verify and publish the blob; committing content that already exists is fine."""
        if self._file is None:
            raise BerthError("commit of a closed content writer")
        actual = self.digest()
        try:
            if self._expected is not None and actual != self._expected:
                raise InvalidArgument(
                    f"unexpected commit digest {actual}, expected {self._expected}"
                )
            if self._expected_size is not None and self._written != self._expected_size:
                raise InvalidArgument(
                    f"unexpected commit size {self._written}, expected {self._expected_size}"
                )
            self._file.flush()
            os.fsync(self._file.fileno())
            target = self._store.blob_path(actual)
            os.chmod(self._path, 0o444)
            os.rename(self._path, target)
            self._committed = True  # nothing left under the ingest's name to discard
            self._file.close()
            self._file = None
            _fsync_dir(target.parent)
        except BaseException:
            self.abort()
            raise
        return Info(actual, self._written)

    def abort(self) -> None:
        """Discard the ingest; harmless after ``commit``."""
        if self._committed:
            return
        self._path.unlink(missing_ok=True)  # before closing: while the lock is held
        if self._file is not None:
            self._file.close()
            self._file = None

    def close(self) -> None:
        """Stop writing: a resumable ingest keeps its bytes for the next ``resume`` (an
        interrupted download), an anonymous one is discarded."""
        if not self._resumable or self._written == 0:
            self.abort()
        elif self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> Writer:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.abort()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ContentStore:
    def __init__(self, root: Path) -> None:
        """``root`` is the data root; blobs live under ``root/content``."""
        self.root = root / "content"
        self.blobs_dir = self.root / "blobs" / "sha256"
        self.ingest_dir = self.root / "ingest"
        self.blobs_dir.mkdir(parents=True, exist_ok=True)
        self.ingest_dir.mkdir(parents=True, exist_ok=True)

    def blob_path(self, digest: str) -> Path:
        return self.blobs_dir / digests.hex_part(digest)

    def writer(self, expected: str | None = None, size: int | None = None) -> Writer:
        return Writer(self, expected, size)

    def resume(self, expected: str, size: int | None = None) -> Writer:
        """A writer for blob ``expected`` that carries on where an interrupted one stopped
        (``offset`` bytes are there already); ``close`` keeps what it wrote. If another
        writer holds that ingest, an anonymous one (``offset`` 0)."""
        return Writer(self, expected, size, resumable=True)

    def write_blob(self, data: bytes, expected: str | None = None) -> Info:
        with self.writer(expected, len(data)) as w:
            w.write(data)
            return w.commit()

    def exists(self, digest: str) -> bool:
        return self.blob_path(digest).is_file()

    def info(self, digest: str) -> Info:
        try:
            return Info(digest, self.blob_path(digest).stat().st_size)
        except FileNotFoundError as err:
            raise NotFound(f"content {digest}: not found") from err

    def open(self, digest: str) -> BinaryIO:
        try:
            return open(self.blob_path(digest), "rb")
        except FileNotFoundError as err:
            raise NotFound(f"content {digest}: not found") from err

    def read(self, digest: str) -> bytes:
        with self.open(digest) as f:
            return f.read()

    def delete(self, digest: str) -> None:
        try:
            self.blob_path(digest).unlink()
        except FileNotFoundError as err:
            raise NotFound(f"content {digest}: not found") from err

    def walk(self) -> Iterator[Info]:
        for entry in sorted(os.scandir(self.blobs_dir), key=lambda e: e.name):
            if entry.is_file(follow_symlinks=False):
                yield Info("sha256:" + entry.name, entry.stat(follow_symlinks=False).st_size)

    def cleanup(self, max_age: float = INGEST_MAX_AGE) -> None:
        """Remove ingests nothing can resume: anonymous ones, downloads of blobs that are
        here already, and downloads untouched for ``max_age`` seconds. Call at start-up,
        before any writer is open."""
        now = time.time()
        for entry in os.scandir(self.ingest_dir):
            resumable = _HEX64.fullmatch(entry.name) is not None and entry.is_file()
            stale = not resumable or (self.blobs_dir / entry.name).exists() \
                or now - entry.stat().st_mtime > max_age
            if stale:
                log.info("removing stale ingest %s", entry.name)
                os.unlink(entry.path)
