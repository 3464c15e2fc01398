"""``FilesystemDriver``: driver paths map onto a directory tree under ``root``.

``/docker/registry/v2/blobs/...`` is ``<root>/docker/registry/v2/blobs/...``, exactly the
layout distribution's filesystem driver leaves, so a root written by one can be read by
the other (see ``paths.py`` for the tree). Whole-file writes go to a temp file in the same
directory, are fsynced and renamed over the target. Directories that ``delete`` or ``move``
leave empty are removed up to the root, so directories exist only while files are below
them, as in the in-memory driver and object stores; a writer racing that pruning retries.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar

from berth.registry.server.storage import FileInfo, PathNotFound, check_path

T = TypeVar("T")


_RETRIES = 3


def _in_new_dir(path: Path, create: Callable[[], T]) -> T:
    """Run ``create`` after making ``path``'s parents, again if a prune removed them."""
    for attempt in range(_RETRIES):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return create()
        except FileNotFoundError:
            if attempt == _RETRIES - 1:
                raise
    raise AssertionError("unreachable")


class _FileWriter:
    def __init__(self, path: Path, append: bool) -> None:
        self._path = path
        self._file: BinaryIO = _in_new_dir(path, lambda: open(path, "ab" if append else "wb"))
        self._size = self._file.tell()

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> None:
        self._file.write(data)
        self._size += len(data)

    def close(self) -> None:
        if not self._file.closed:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()

    def cancel(self) -> None:
        self._file.close()
        self._path.unlink(missing_ok=True)


class FilesystemDriver:
    name = "filesystem"

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _full(self, path: str) -> Path:
        return self.root / check_path(path).lstrip("/")

    def get_content(self, path: str) -> bytes:
        try:
            return self._full(path).read_bytes()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as err:
            raise PathNotFound(path) from err

    def put_content(self, path: str, content: bytes) -> None:
        full = self._full(path)
        fd, tmp = _in_new_dir(full, lambda: tempfile.mkstemp(dir=full.parent, prefix=".tmp-"))
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, full)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        try:
            f = open(self._full(path), "rb")  # the caller closes it
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError) as err:
            raise PathNotFound(path) from err
        f.seek(offset)
        return f

    def writer(self, path: str, append: bool = False) -> _FileWriter:
        return _FileWriter(self._full(path), append)

    def stat(self, path: str) -> FileInfo:
        try:
            st = self._full(path).stat()
        except (FileNotFoundError, NotADirectoryError) as err:
            raise PathNotFound(path) from err
        is_dir = Path(self._full(path)).is_dir()
        return FileInfo(path=path, size=0 if is_dir else st.st_size, is_dir=is_dir)

    def list(self, path: str) -> list[str]:
        try:
            names = os.listdir(self._full(path))
        except (FileNotFoundError, NotADirectoryError) as err:
            raise PathNotFound(path) from err
        return sorted(n for n in names if not n.startswith(".tmp-"))

    def move(self, source: str, dest: str) -> None:
        origin, target = self._full(source), self._full(dest)
        if not origin.exists():
            raise PathNotFound(source)
        _in_new_dir(target, lambda: os.replace(origin, target))
        self._prune(origin.parent)

    def delete(self, path: str) -> None:
        full = self._full(path)
        try:
            if full.is_dir() and not full.is_symlink():
                shutil.rmtree(full)
            else:
                full.unlink()
        except FileNotFoundError as err:
            raise PathNotFound(path) from err
        except OSError as err:
            if err.errno == errno.ENOTDIR:
                raise PathNotFound(path) from err
            raise
        self._prune(full.parent)

    def _prune(self, directory: Path) -> None:
        """Remove ``directory`` and its parents while they are empty, up to the root."""
        while directory != self.root and self.root in directory.parents:
            try:
                directory.rmdir()
            except OSError:
                return  # not empty (or already gone): nothing above can be empty either
            directory = directory.parent
