"""Docker's stdcopy framing: how stdout and stderr share one byte stream.

Attach and logs streams of containers without a tty carry frames; with a tty the stream
is raw. One definition for every side: the shim writes frames (so the daemon splices bytes
without re-encoding), the API server frames logs, the client decodes::

    ┌────────┬───┬───┬───┬──────────────────────────┬───────────────────┐
    │ stream │ 0 │ 0 │ 0 │ length (uint32, big end) │ payload (length)  │
    └────────┴───┴───┴───┴──────────────────────────┴───────────────────┘
      1 byte                 4 bytes
    stream: 0 = stdin, 1 = stdout, 2 = stderr, 3 = systemerr (moby's stdcopy.StdType)
"""

from __future__ import annotations

import struct

STDIN = 0
STDOUT = 1
STDERR = 2
SYSTEMERR = 3

HEADER_SIZE = 8
HEADER = struct.Struct(">BxxxI")


def encode_frame(stream: int, payload: bytes) -> bytes:
    """One frame carrying ``payload`` on ``stream``."""
    return HEADER.pack(stream, len(payload)) + payload


class FrameDecoder:
    """Incremental decoder: feed arbitrary chunks, get whole ``(stream, payload)`` frames."""

    def __init__(self) -> None:
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[tuple[int, bytes]]:
        self._buf += data
        frames: list[tuple[int, bytes]] = []
        while len(self._buf) >= HEADER_SIZE:
            stream, length = HEADER.unpack_from(self._buf)
            if stream > SYSTEMERR:
                raise ValueError(f"stdcopy: invalid stream id {stream}")
            end = HEADER_SIZE + length
            if len(self._buf) < end:
                break
            frames.append((stream, bytes(self._buf[HEADER_SIZE:end])))
            del self._buf[:end]
        return frames

    @property
    def pending(self) -> int:
        """Bytes buffered that do not yet form a whole frame (non-zero at EOF: truncated)."""
        return len(self._buf)
