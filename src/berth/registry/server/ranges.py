"""Byte ranges in the two directions: ``Range`` on blob reads, ``Content-Range`` on uploads.

Reads follow RFC 9110 for a single range (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``); a
header we do not understand is ignored (a full 200), one we understand but cannot satisfy is
416 with ``Content-Range: bytes */<size>``. Upload chunks carry the spec's bare form
``<start>-<end>`` (inclusive); distribution also accepts a ``bytes `` prefix, so do we.
"""

from __future__ import annotations

import re

from berth.registry.server.errcode import ErrorCode, RegistryError

_RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
_CONTENT_RANGE_RE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)$")


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte a read asks for, or None for the whole blob."""
    if not header:
        return None
    m = _RANGE_RE.match(header.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None
    first_s, last_s = m.groups()
    if not first_s:  # suffix: the last n bytes
        n = int(last_s)
        if n == 0 or size == 0:
            raise _unsatisfiable(size)
        return max(0, size - n), size - 1
    first = int(first_s)
    last = min(int(last_s), size - 1) if last_s else size - 1
    if first >= size or (last_s and int(last_s) < first):
        raise _unsatisfiable(size)
    return first, last


def _unsatisfiable(size: int) -> RegistryError:
    return RegistryError(ErrorCode.RANGE_INVALID, "requested range not satisfiable",
                         detail={"size": size}, headers={"Content-Range": f"bytes */{size}"})


def parse_content_range(header: str | None) -> tuple[int, int] | None:
    """The inclusive ``(start, end)`` of an upload chunk; 416 when malformed or reversed."""
    if header is None:
        return None
    m = _CONTENT_RANGE_RE.match(header.strip())
    if m is None or int(m.group(2)) < int(m.group(1)):
        raise RegistryError(ErrorCode.RANGE_INVALID, f"invalid Content-Range {header!r}",
                            detail={"Content-Range": header})
    return int(m.group(1)), int(m.group(2))


def upload_range(size: int) -> str:
    """The ``Range`` header of an upload holding ``size`` bytes: ``0-<last byte>``;
    distribution answers ``0-0`` for an empty upload, and clients expect that."""
    return f"0-{max(size - 1, 0)}"
