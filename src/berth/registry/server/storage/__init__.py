"""The ``StorageDriver`` seam: a small path-keyed file store under the registry.

Like distribution's ``storagedriver.StorageDriver``, a driver knows nothing about blobs,
manifests or repositories: it stores bytes at ``/``-separated absolute paths
(``/docker/registry/v2/blobs/...``) and the registry's layout (``paths.py``) is built on top
of it, identically for every driver. Drivers are synchronous; the HTTP layer reaches them
through ``asyncio.to_thread``.

Contract (``tests/unit/registry/server/driver_suite.py`` checks it for every driver):

- ``put_content`` replaces a file atomically; readers see the old or the new bytes.
- ``writer(path, append=True)`` continues a file across requests (a chunked upload); what
  has been written is visible to ``stat``/``reader`` after ``close``.
- ``move`` is atomic and replaces ``dest``; missing parent directories are implied.
- ``list`` names a directory's direct children (sorted); ``delete`` is recursive.
- Directories exist only while a file is below them (an object store's semantics, which
  the filesystem driver keeps by pruning directories that ``delete``/``move`` emptied).
- Every operation on a missing path raises ``PathNotFound``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import BinaryIO, Protocol

from berth.errors import InvalidArgument, NotFound


class PathNotFound(NotFound):
    def __init__(self, path: str) -> None:
        super().__init__(f"path not found: {path}")
        self.path = path


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    is_dir: bool


class FileWriter(Protocol):
    """An open file being appended to; ``size`` counts everything in it so far."""

    @property
    def size(self) -> int: ...

    def write(self, data: bytes) -> None: ...

    def close(self) -> None:
        """Make what was written durable and visible; the path stays."""

    def cancel(self) -> None:
        """Discard the file entirely."""


class StorageDriver(Protocol):
    name: str

    def get_content(self, path: str) -> bytes: ...

    def put_content(self, path: str, content: bytes) -> None: ...

    def reader(self, path: str, offset: int = 0) -> BinaryIO: ...

    def writer(self, path: str, append: bool = False) -> FileWriter: ...

    def stat(self, path: str) -> FileInfo: ...

    def list(self, path: str) -> list[str]: ...

    def move(self, source: str, dest: str) -> None: ...

    def delete(self, path: str) -> None: ...


def check_path(path: str) -> str:
    """Every driver accepts only absolute, normalised paths (no ``.``/``..``/empty parts)."""
    parts = path.split("/")
    if not path.startswith("/") or (path != "/" and any(p in ("", ".", "..")
                                                        for p in parts[1:])):
        raise InvalidArgument(f"invalid storage path: {path!r}")
    return path


def open_driver(name: str, root: str | None = None) -> StorageDriver:
    """The driver table: ``filesystem`` (needs ``root``) or ``inmemory``."""
    from berth.registry.server.storage.filesystem import FilesystemDriver
    from berth.registry.server.storage.memory import InMemoryDriver

    if name == "filesystem":
        if root is None:
            raise InvalidArgument("the filesystem driver needs a root directory")
        return FilesystemDriver(root)
    if name == "inmemory":
        return InMemoryDriver()
    raise InvalidArgument(f"unknown storage driver: {name!r}")


__all__ = ["FileInfo", "FileWriter", "PathNotFound", "StorageDriver", "check_path",
           "open_driver"]
