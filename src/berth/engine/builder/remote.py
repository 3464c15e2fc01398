"""``ADD http(s)://...``: download a remote file for the build, as docker's builder does.

* the file is streamed to a temporary file (never held in memory) while being hashed;
* ``--checksum=sha256:<hex>`` must match, else buildkit's ``digest mismatch`` error;
* its name is the last component of the URL path, else the ``Content-Disposition``
  filename (moby ``getFilenameForDownload``); it is only needed when the destination is a
  directory;
* its mtime is the ``Last-Modified`` header (the epoch without one), its mode 0600;
* a remote file is never extracted, even if it is an archive.

Blocking (urllib): call it from a worker thread.
"""

from __future__ import annotations

import email.utils
import hashlib
import os
import posixpath
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from berth.errors import InvalidArgument

_CHUNK = 1 << 20
_TIMEOUT = 60.0
_SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
_FILENAME = re.compile(r"""filename\*?=(?:UTF-8'')?"?([^";]+)"?""", re.IGNORECASE)


def is_url(source: str) -> bool:
    return source.startswith(("http://", "https://"))


@dataclass(frozen=True)
class Download:
    path: Path  # the downloaded bytes
    name: str  # file name to use under a destination directory ("" if unknown)
    mtime: float  # Last-Modified, or 0
    digest: str  # "sha256:..." of the content


def check_checksum(checksum: str) -> None:
    if not _SHA256.fullmatch(checksum):
        raise InvalidArgument(f"invalid checksum digest format: {checksum!r}: "
                              "expected sha256:<64 hex digits>")


def download(url: str, into: Path, checksum: str | None = None) -> Download:
    """Fetch ``url`` into a new file in directory ``into``."""
    if checksum is not None:
        check_checksum(checksum)
    request = urllib.request.Request(url, headers={"User-Agent": "berth-builder"})
    fd, tmp = _tempfile(into)
    digest = hashlib.sha256()
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT) as resp, \
                os.fdopen(fd, "wb") as out:
            while chunk := resp.read(_CHUNK):
                digest.update(chunk)
                out.write(chunk)
            headers = resp.headers
    except urllib.error.HTTPError as err:
        body = err.read(512).decode("utf-8", "replace").strip()
        raise InvalidArgument(f"failed to GET {url} with status {err.code} {err.reason}: "
                              f"{body}") from err
    except (urllib.error.URLError, OSError) as err:
        reason = err.reason if isinstance(err, urllib.error.URLError) else err
        raise InvalidArgument(f"failed to GET {url}: {reason}") from err
    actual = "sha256:" + digest.hexdigest()
    if checksum is not None and actual != checksum:
        raise InvalidArgument(f"digest mismatch {actual}: {checksum}")
    mtime = _last_modified(headers.get("Last-Modified"))
    os.utime(tmp, (mtime, mtime))
    return Download(Path(tmp), _filename(url, headers.get("Content-Disposition")), mtime,
                    actual)


def _tempfile(into: Path) -> tuple[int, str]:
    into.mkdir(parents=True, exist_ok=True)
    for index in range(1000):
        path = os.path.join(into, f"download-{index}")
        try:
            return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC,
                           0o600), path
        except FileExistsError:
            continue
    raise InvalidArgument(f"cannot create a download file in {into}")


def _last_modified(value: str | None) -> float:
    if not value:
        return 0.0
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError):
        return 0.0


def _filename(url: str, disposition: str | None) -> str:
    path = urllib.parse.urlsplit(url).path
    if path and not path.endswith("/"):
        name = posixpath.basename(urllib.parse.unquote(path))
        if name:
            return name
    if disposition:
        match = _FILENAME.search(disposition)
        if match and not match.group(1).endswith("/"):
            return posixpath.basename(urllib.parse.unquote(match.group(1)))
    return ""
