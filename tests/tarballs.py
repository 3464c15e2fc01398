"""Tar archives built in memory: the one tar writer every test module uses.

``entry`` makes a member (a header and, for a regular file, its data), ``make_tar`` writes
members in order, and ``tar_of`` is the short form for a tree of regular files (plus
symlinks). Times are fixed so that the same files always make the same bytes (and digest).
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Mapping

MTIME = 1_700_000_000

Member = tuple[tarfile.TarInfo, bytes]


def entry(name: str, kind: bytes = tarfile.REGTYPE, data: bytes = b"", mode: int = 0o644,
          linkname: str = "", mtime: int = MTIME, **extra: object) -> Member:
    """One member; ``extra`` sets any other TarInfo field (uid, devmajor, pax_headers...)."""
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime, info.linkname = kind, mode, mtime, linkname
    info.size = len(data) if kind == tarfile.REGTYPE else 0
    for key, value in extra.items():
        setattr(info, key, value)
    return info, data


def make_tar(*members: Member, compression: str = "", format: int = tarfile.PAX_FORMAT) -> bytes:
    """``members`` in order; ``compression`` is tarfile's ("gz", "bz2", "xz") or "" for none."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode=f"w:{compression}", format=format) as tf:
        for info, data in members:
            tf.addfile(info, io.BytesIO(data) if info.isreg() else None)
    return buf.getvalue()


def tar_of(files: Mapping[str, bytes], *, symlinks: Mapping[str, str] | None = None,
           mode: int = 0o644, compression: str = "") -> bytes:
    """Regular files ``files`` (name -> data, each with permissions ``mode``), then
    ``symlinks`` (name -> target)."""
    members = [entry(name, data=data, mode=mode) for name, data in files.items()]
    members += [entry(name, tarfile.SYMTYPE, linkname=target)
                for name, target in (symlinks or {}).items()]
    return make_tar(*members, compression=compression)
