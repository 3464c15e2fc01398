"""Reading Docker's stdcopy streams from a blocking socket (the frame format itself is
``berth.formats.stdcopy``): attach and logs without a tty, and raw tty passthrough."""

from __future__ import annotations

from berth import errors
from berth.formats.stdcopy import HEADER, STDERR, STDIN, STDOUT, SYSTEMERR, encode_frame

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import IO, Protocol

    class Reader(Protocol):
        def read(self, size: int, /) -> bytes: ...


frame = encode_frame  # the daemon's side; tests use it to fake a daemon


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


def copy_raw(reader: Reader, out: IO[bytes]) -> None:
    """A tty stream: the terminal's bytes, passed through as they arrive."""
    read1 = getattr(reader, "read1", reader.read)
    while chunk := read1(32 * 1024):
        out.write(chunk)
        out.flush()
