"""Docker's stdcopy framing: how stdout and stderr share one stream without a tty.

Each frame is an 8-byte header and a payload::

    +--------+-----+-----+-----+------------------------+
    | stream |  0  |  0  |  0  | size (uint32, big end) |  payload (size bytes)
    +--------+-----+-----+-----+------------------------+
      0 stdin (written to stdout), 1 stdout, 2 stderr, 3 system error from the daemon

Used by attach (hijacked) and logs when the container has no tty; with a tty the stream is
the terminal's raw bytes.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import IO, Protocol

from berth import errors

STDIN, STDOUT, STDERR, SYSTEMERR = 0, 1, 2, 3
HEADER = struct.Struct(">BxxxI")


class Reader(Protocol):
    def read(self, size: int, /) -> bytes: ...


def frame(stream: int, payload: bytes) -> bytes:
    """One encoded frame (the daemon's side; tests use it to fake a daemon)."""
    return HEADER.pack(stream, len(payload)) + payload


def _read_exact(reader: Reader, size: int) -> bytes:
    buf = b""
    while len(buf) < size:
        chunk = reader.read(size - len(buf))
        if not chunk:
            break
        buf += chunk
    return buf


def frames(reader: Reader) -> Iterator[tuple[int, bytes]]:
    """(stream, payload) pairs until EOF; a truncated frame is a protocol error."""
    while True:
        header = _read_exact(reader, HEADER.size)
        if not header:
            return
        if len(header) < HEADER.size:
            raise errors.BerthError("unexpected EOF in stdcopy frame header")
        stream, size = HEADER.unpack(header)
        payload = _read_exact(reader, size)
        if len(payload) < size:
            raise errors.BerthError("unexpected EOF in stdcopy frame payload")
        yield stream, payload


def demux(reader: Reader, stdout: IO[bytes], stderr: IO[bytes]) -> None:
    """Copy frames to ``stdout``/``stderr`` as they arrive; a system-error frame raises."""
    for stream, payload in frames(reader):
        if stream in (STDIN, STDOUT):
            out = stdout
        elif stream == STDERR:
            out = stderr
        elif stream == SYSTEMERR:
            raise errors.BerthError(payload.decode(errors="replace"))
        else:
            raise errors.BerthError(f"unrecognized stdcopy stream id: {stream}")
        out.write(payload)
        out.flush()


def copy_raw(reader: IO[bytes], out: IO[bytes]) -> None:
    """A tty stream: the terminal's bytes, passed through as they arrive."""
    read1 = getattr(reader, "read1", reader.read)
    while chunk := read1(32 * 1024):
        out.write(chunk)
        out.flush()
