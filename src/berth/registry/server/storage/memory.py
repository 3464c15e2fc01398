"""``InMemoryDriver``: the driver contract over a dict, for tests and throwaway registries.

Files are ``bytearray`` values keyed by path; directories are implied by the paths below
them (as in an object store), so ``list``/``stat``/``delete`` of a directory look at
prefixes. One lock keeps each operation atomic across the threads the server runs on.
"""

from __future__ import annotations

import io
import threading
from typing import BinaryIO

from berth.registry.server.storage import FileInfo, PathNotFound, check_path


class _MemoryWriter:
    def __init__(self, driver: InMemoryDriver, path: str, append: bool) -> None:
        self._driver = driver
        self._path = path
        with driver.lock:
            if not append or path not in driver.files:
                driver.files[path] = bytearray()
            self._size = len(driver.files[path])

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> None:
        with self._driver.lock:
            buf = self._driver.files.get(self._path)
            if buf is None:
                raise PathNotFound(self._path)
            buf += data
            self._size = len(buf)

    def close(self) -> None:
        pass

    def cancel(self) -> None:
        with self._driver.lock:
            self._driver.files.pop(self._path, None)


class InMemoryDriver:
    name = "inmemory"

    def __init__(self) -> None:
        self.files: dict[str, bytearray] = {}
        self.lock = threading.RLock()

    def _below(self, path: str) -> list[str]:
        prefix = path.rstrip("/") + "/"
        return [p for p in self.files if p.startswith(prefix)]

    def get_content(self, path: str) -> bytes:
        with self.lock:
            try:
                return bytes(self.files[check_path(path)])
            except KeyError as err:
                raise PathNotFound(path) from err

    def put_content(self, path: str, content: bytes) -> None:
        with self.lock:
            self.files[check_path(path)] = bytearray(content)

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        data = self.get_content(path)
        stream = io.BytesIO(data)
        stream.seek(offset)
        return stream

    def writer(self, path: str, append: bool = False) -> _MemoryWriter:
        return _MemoryWriter(self, check_path(path), append)

    def stat(self, path: str) -> FileInfo:
        with self.lock:
            check_path(path)
            if path in self.files:
                return FileInfo(path=path, size=len(self.files[path]), is_dir=False)
            if path == "/" or self._below(path):
                return FileInfo(path=path, size=0, is_dir=True)
        raise PathNotFound(path)

    def list(self, path: str) -> list[str]:
        with self.lock:
            check_path(path)
            prefix = path.rstrip("/") + "/"
            children = {p[len(prefix):].split("/", 1)[0] for p in self._below(path)}
        if not children:
            raise PathNotFound(path)
        return sorted(children)

    def move(self, source: str, dest: str) -> None:
        with self.lock:
            check_path(dest)
            try:
                self.files[dest] = self.files.pop(check_path(source))
            except KeyError as err:
                raise PathNotFound(source) from err

    def delete(self, path: str) -> None:
        with self.lock:
            check_path(path)
            doomed = self._below(path) + ([path] if path in self.files else [])
            if not doomed:
                raise PathNotFound(path)
            for p in doomed:
                del self.files[p]
