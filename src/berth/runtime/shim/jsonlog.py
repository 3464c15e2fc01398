"""The json-file log driver, byte-compatible with docker's ``json-file``.

One JSON object per line, keys in docker's order, time in Go's RFC3339Nano (UTC, trailing
zeros trimmed)::

    {"log":"hi\\n","stream":"stdout","time":"2026-11-28T02:12:38.123456789Z"}

Output is split on ``\\n`` (the newline stays in ``log``). A line longer than
``PARTIAL_SIZE`` is written as partial records of that size without a newline, as is an
unterminated tail at close, exactly as moby's log copier does. Strings are escaped as moby's
``jsonlog`` does: ``<``, ``>``, ``&``, U+2028/9 and control characters as ``\\u00XX``
(except ``\\n \\r \\t``), invalid UTF-8 as U+FFFD.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PARTIAL_SIZE = 16 * 1024

_ESCAPES: dict[int, str] = {c: f"\\u{c:04x}" for c in range(0x20)}
_ESCAPES.update({
    ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord('"'): '\\"', ord("\\"): "\\\\",
    ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
    0x2028: "\\u2028", 0x2029: "\\u2029",
})


def json_string(data: bytes) -> str:
    """``data`` as a JSON string literal, escaped the way moby's jsonlog escapes it."""
    return '"' + data.decode("utf-8", "replace").translate(_ESCAPES) + '"'


def rfc3339_nano(time_ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: fraction without trailing zeros, or none."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if nanos:
        stamp += "." + f"{nanos:09d}".rstrip("0")
    return stamp + "Z"


def encode_record(stream: str, line: bytes, time_ns: int) -> bytes:
    return (f'{{"log":{json_string(line)},"stream":"{stream}",'
            f'"time":"{rfc3339_nano(time_ns)}"}}\n').encode()


class JsonFileLog:
    """Appends a container's output to its json-file log; one instance per container."""

    def __init__(self, path: Path) -> None:
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self._pending: dict[str, bytearray] = {}

    def write(self, stream: str, data: bytes) -> None:
        """Log a chunk of ``stream`` ("stdout" or "stderr") output as it was read."""
        buf = self._pending.setdefault(stream, bytearray())
        buf += data
        now = time.time_ns()
        out = bytearray()
        start = 0
        while True:
            nl = buf.find(b"\n", start, start + PARTIAL_SIZE)
            if nl >= 0:
                out += encode_record(stream, bytes(buf[start:nl + 1]), now)
                start = nl + 1
            elif len(buf) - start >= PARTIAL_SIZE:
                out += encode_record(stream, bytes(buf[start:start + PARTIAL_SIZE]), now)
                start += PARTIAL_SIZE
            else:
                break
        del buf[:start]
        self._write(out)

    def flush_partial(self) -> None:
        """Write unterminated tails (the container's output ended without a newline)."""
        now = time.time_ns()
        out = bytearray()
        for stream, buf in self._pending.items():
            if buf:
                out += encode_record(stream, bytes(buf), now)
                buf.clear()
        self._write(out)

    def close(self) -> None:
        if self._fd < 0:
            return
        self.flush_partial()
        os.close(self._fd)
        self._fd = -1

    def _write(self, out: bytes | bytearray) -> None:
        view = memoryview(out)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
