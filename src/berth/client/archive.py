"""``/containers/{id}/archive``: stat, fetch and upload a path in a container (``cp``).

The stat of a path travels in the ``X-Docker-Container-Path-Stat`` header, base64 of a
JSON ``{"name", "size", "mode", "mtime", "linkTarget"}`` whose ``mode`` is a Go
``os.FileMode`` (type bits high: ``ModeDir`` is 1<<31, ``ModeSymlink`` 1<<27). HEAD asks
for the stat alone, GET adds the tar as the body, PUT extracts a tar into a directory.
Bodies are streamed both ways: nothing here holds more than a chunk.
"""

from __future__ import annotations

import base64
import json

from berth import errors
from berth.client.api import quote_id
from berth.client.models import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Final

    from berth.client.api import EngineAPI
    from berth.client.transport import Body, Response

STAT_HEADER = "X-Docker-Container-Path-Stat"
MODE_DIR = 1 << 31
MODE_SYMLINK = 1 << 27
_MODE_TYPE = (1 << 31) | (1 << 30) | (1 << 27) | (1 << 26) | (1 << 25) | (1 << 24) | (
    1 << 21) | (1 << 19)  # Go's ModeType: dir, append... symlink, device, pipe, socket...


class PathStat(Value):
    """docker's ``container.PathStat``."""

    __slots__ = ("link_target", "mode", "mtime", "name", "size")
    name: Final[str]
    size: Final[int]
    mode: Final[int]  # a Go os.FileMode
    mtime: Final[str]
    link_target: Final[str]

    def __init__(self, name: str, size: int = 0, mode: int = 0, mtime: str = "",
                 link_target: str = "") -> None:
        self.name = name
        self.size = size
        self.mode = mode
        self.mtime = mtime
        self.link_target = link_target

    @property
    def is_dir(self) -> bool:
        return bool(self.mode & MODE_DIR)

    @property
    def is_symlink(self) -> bool:
        return bool(self.mode & MODE_SYMLINK)

    @property
    def is_regular(self) -> bool:
        return not self.mode & _MODE_TYPE

    @classmethod
    def from_header(cls, value: str) -> PathStat:
        try:
            doc = json.loads(base64.b64decode(value))
        except ValueError as err:
            raise errors.BerthError(f"unable to decode container path stat header: {err}"
                                    ) from err
        return cls(str(doc.get("name") or ""), int(doc.get("size") or 0),
                   int(doc.get("mode") or 0), str(doc.get("mtime") or ""),
                   str(doc.get("linkTarget") or ""))


class ArchiveBody:
    """A tar as it arrives; ``close`` ends the response where the reader stopped (a tar
    reader stops at the end marker, before the record padding behind it)."""

    def __init__(self, resp: Response, size: int = 32 * 1024) -> None:
        self._resp = resp
        self._size = size

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self._resp.read1(self._size):
            yield chunk

    def close(self) -> None:
        self._resp.close()


def _stat_of(resp: Response) -> PathStat:
    return PathStat.from_header(resp.getheader(STAT_HEADER, "") or "")


class ArchiveAPI:
    def __init__(self, api: EngineAPI) -> None:
        self._api = api

    def _path(self, container: str) -> str:
        return f"/containers/{quote_id(container)}/archive"

    def stat(self, container: str, path: str) -> PathStat:
        """``HEAD``: what ``path`` is in the container (NotFound if nothing)."""
        with self._api.request("HEAD", self._path(container), {"path": path}) as resp:
            resp.read()
            return _stat_of(resp)

    def get(self, container: str, path: str) -> tuple[PathStat, ArchiveBody]:
        """``GET``: the stat of ``path`` and a tar of it, as it arrives (close it)."""
        resp = self._api.request("GET", self._path(container), {"path": path})
        try:
            stat = _stat_of(resp)
        except errors.BerthError:
            resp.close()
            raise
        return stat, ArchiveBody(resp)

    def put(self, container: str, path: str, tar: Body, copy_uid_gid: bool = False,
            no_overwrite_dir_non_dir: bool = True) -> None:
        """``PUT``: extract ``tar`` (streamed) into the directory ``path``."""
        params = {"path": path, "noOverwriteDirNonDir": no_overwrite_dir_non_dir or None,
                  "copyUIDGID": copy_uid_gid or None}
        with self._api.request("PUT", self._path(container), params, tar,
                               {"Content-Type": "application/x-tar"}) as resp:
            resp.read()
