"""Blobs: bytes stored once by digest, visible in a repository only through its link.

A blob "exists in repository R" when ``R/_layers/sha256/<hex>/link`` names it *and* its data
exists (garbage collection may have swept data whose links it also removed). Deleting a
blob from a repository removes only the link; the bytes go when ``gc`` finds nothing
referencing them, as in distribution.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO

from berth.errors import InvalidArgument
from berth.oci import digest as digests
from berth.registry.server import paths
from berth.registry.server.errcode import ErrorCode, RegistryError
from berth.registry.server.storage import PathNotFound, StorageDriver


@dataclass(frozen=True)
class BlobInfo:
    digest: str
    size: int


def read_link(driver: StorageDriver, path: str) -> str:
    """The digest a link file names; PathNotFound if there is no such (valid) link."""
    text = driver.get_content(path).decode("ascii", "replace").strip()
    try:
        return digests.validate(text)
    except InvalidArgument as err:
        raise PathNotFound(path) from err


def write_link(driver: StorageDriver, path: str, digest: str) -> None:
    driver.put_content(path, digest.encode())


def unknown_blob(digest: str) -> RegistryError:
    return RegistryError(ErrorCode.BLOB_UNKNOWN, detail={"digest": digest})


class BlobStore:
    def __init__(self, driver: StorageDriver) -> None:
        self.driver = driver

    def stat_data(self, digest: str) -> BlobInfo:
        """The blob's bytes in global storage, whatever repository they came from."""
        try:
            return BlobInfo(digest, self.driver.stat(paths.blob_data(digest)).size)
        except PathNotFound as err:
            raise unknown_blob(digest) from err

    def stat(self, name: str, digest: str) -> BlobInfo:
        try:
            linked = read_link(self.driver, paths.layer_link(name, digest))
        except PathNotFound as err:
            raise unknown_blob(digest) from err
        if linked != digest:
            raise unknown_blob(digest)
        return self.stat_data(digest)

    def open(self, name: str, digest: str, offset: int = 0) -> BinaryIO:
        self.stat(name, digest)
        try:
            return self.driver.reader(paths.blob_data(digest), offset)
        except PathNotFound as err:
            raise unknown_blob(digest) from err

    def link(self, name: str, digest: str) -> None:
        write_link(self.driver, paths.layer_link(name, digest), digest)

    def delete(self, name: str, digest: str) -> None:
        self.stat(name, digest)
        self.driver.delete(paths.layer_link(name, digest).rsplit("/", 1)[0])

    def mount(self, name: str, digest: str, source: str) -> BlobInfo | None:
        """Link ``source``'s blob into ``name``; None when ``source`` does not have it."""
        try:
            info = self.stat(source, digest)
        except RegistryError:
            return None
        self.link(name, digest)
        return info

    def put_small(self, content: bytes) -> str:
        """Store a small document (a manifest) already in memory; returns its digest."""
        digest = digests.sha256_digest(content)
        path = paths.blob_data(digest)
        try:
            if self.driver.stat(path).size == len(content):
                return digest
        except PathNotFound:
            pass
        self.driver.put_content(path, content)
        return digest

    def get_small(self, digest: str) -> bytes:
        try:
            return self.driver.get_content(paths.blob_data(digest))
        except PathNotFound as err:
            raise unknown_blob(digest) from err

    def ingest(self, upload_path: str, digest: str) -> None:
        """Move verified upload data to its digest's place (or drop it if already there)."""
        target = paths.blob_data(digest)
        try:
            self.driver.stat(target)
        except PathNotFound:
            self.driver.move(upload_path, target)
            return
        self.driver.delete(upload_path)
