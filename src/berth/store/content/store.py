"""Blob storage by digest (containerd ``core/content/local``)."""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import BinaryIO

from berth.errors import BerthError, InvalidArgument, NotFound
from berth.oci import digest as digests

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Info:
    digest: str
    size: int


class Writer:
    """One ingest: ``write`` bytes, then ``commit`` (verify, fsync, rename) or ``abort``.

    Use as a context manager; leaving the block without commit aborts the ingest.
    """

    def __init__(self, store: ContentStore, expected: str | None, size: int | None) -> None:
        self._store = store
        self._expected = digests.validate(expected) if expected is not None else None
        self._expected_size = size
        self._hash = hashlib.sha256()
        self._written = 0
        self._path = store.ingest_dir / secrets.token_hex(16)
        self._file: BinaryIO | None = open(self._path, "xb")

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
            self._file.close()
            self._file = None
            target = self._store.blob_path(actual)
            os.chmod(self._path, 0o444)
            os.rename(self._path, target)
            _fsync_dir(target.parent)
        except BaseException:
            self.abort()
            raise
        return Info(actual, self._written)

    def abort(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        self._path.unlink(missing_ok=True)

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

    def cleanup(self) -> None:
        """Remove ingests left by a crash; call before any writer is open."""
        for entry in os.scandir(self.ingest_dir):
            log.info("removing stale ingest %s", entry.name)
            os.unlink(entry.path)
