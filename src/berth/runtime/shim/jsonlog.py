"""The json-file log driver, byte-compatible with docker's ``json-file``, with rotation.

One JSON object per line, keys in docker's order, time in Go's RFC3339Nano (UTC, trailing
zeros trimmed)::

    {"log":"hi\\n","stream":"stdout","time":"2026-11-28T02:12:38.123456789Z"}

Output is split on ``\\n`` (the newline stays in ``log``). A line longer than
``PARTIAL_SIZE`` is written as partial records of that size without a newline, as is an
unterminated tail at close, exactly as moby's log copier does. Strings are escaped as moby's
``jsonlog`` does: ``<``, ``>``, ``&``, U+2028/9 and control characters as ``\\u00XX``
(except ``\\n \\r \\t``), invalid UTF-8 as U+FFFD.

Rotation (docker's ``max-size``/``max-file``), done by rename so a reader that holds the
old file open still reads it to its end, and only whole records ever go to a file::

    before a record would push <id>-json.log past max-size:
        <id>-json.log.{N-2} → .{N-1} … .1 → .2, <id>-json.log → .1, open a new <id>-json.log
    (max-file 1: truncate instead, as docker does; the oldest file is overwritten)

Unlike docker (unbounded unless told), the default is bounded: ``DEFAULT_ROTATION``.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path

PARTIAL_SIZE = 16 * 1024

_ESCAPES: dict[int, str] = {c: f"\\u{c:04x}" for c in range(0x20)}
_ESCAPES.update({
    ord("\n"): "\\n", ord("\r"): "\\r", ord("\t"): "\\t", ord('"'): '\\"', ord("\\"): "\\\\",
    ord("<"): "\\u003c", ord(">"): "\\u003e", ord("&"): "\\u0026",
    0x2028: "\\u2028", 0x2029: "\\u2029",
})
# Bytes where the C JSON encoder and moby's escaping differ (\b, \f, HTML characters, the
# first byte of U+2028/9); a line without them takes the C encoder.
_MOBY_ONLY = re.compile(rb"[\x08\x0c<>&\xe2]")
# Bytes that stand for themselves inside a JSON string in moby's escaping (and newline).
_VERBATIM = bytes(b for b in range(0x20, 0x7F) if b not in b'"\\<>&') + b"\n"
_SIZE = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_DECIMAL = {"": 1, "k": 10**3, "m": 10**6, "g": 10**9, "t": 10**12, "p": 10**15}


@dataclass(frozen=True)
class Rotation:
    max_size: int = 0  # bytes per file; 0: never rotate
    max_file: int = 1  # files kept, the live one included


DEFAULT_ROTATION = Rotation(max_size=20 * 10**6, max_file=5)  # docker's `local` defaults


def parse_size(text: str) -> int:
    """go-units ``FromHumanSize`` (decimal: ``10k`` is 10000 bytes), as json-file uses it."""
    m = _SIZE.match(text)
    if m is None:
        raise ValueError(f"invalid size: '{text}'")
    return int(float(m.group(1)) * _DECIMAL[(m.group(2) or "").lower()])


def rotation(options: Mapping[str, str]) -> Rotation:
    """The rotation a log config asks for; ``ValueError`` with docker's words if invalid.

    Neither option set: ``DEFAULT_ROTATION``. ``max-size`` alone keeps one file (docker);
    ``max-file`` alone rotates at the default size."""
    if "max-size" not in options and "max-file" not in options:
        return DEFAULT_ROTATION
    max_size = DEFAULT_ROTATION.max_size
    if "max-size" in options:
        max_size = parse_size(options["max-size"])
        if max_size <= 0:
            raise ValueError("max-size must be a positive number")
    max_file = 1 if "max-size" in options else DEFAULT_ROTATION.max_file
    if "max-file" in options:
        try:
            max_file = int(options["max-file"])
        except ValueError:
            raise ValueError(f'strconv.Atoi: parsing "{options["max-file"]}": invalid '
                             "syntax") from None
        if max_file < 1:
            raise ValueError("max-file cannot be less than 1")
    return Rotation(max_size, max_file)


def rotated_path(path: Path, index: int) -> Path:
    """``path`` for 0, ``path.1`` … for the older files."""
    return path if index == 0 else path.with_name(f"{path.name}.{index}")


def json_string(data: bytes) -> str:
    """``data`` as a JSON string literal, escaped the way moby's jsonlog escapes it."""
    if _MOBY_ONLY.search(data) is None:
        return str(encode_basestring(data.decode("utf-8", "replace")))
    return '"' + data.decode("utf-8", "replace").translate(_ESCAPES) + '"'


def rfc3339_nano(time_ns: int) -> str:
    """Go's ``time.RFC3339Nano`` in UTC: fraction without trailing zeros, or none."""
    seconds, nanos = divmod(time_ns, 1_000_000_000)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if nanos:
        stamp += "." + f"{nanos:09d}".rstrip("0")
    return stamp + "Z"


def encode_record(stream: str, line: bytes, time_ns: int) -> bytes:
    return _record(stream, line, rfc3339_nano(time_ns))


def _record(stream: str, line: bytes, stamp: str) -> bytes:
    return f'{{"log":{json_string(line)},"stream":"{stream}","time":"{stamp}"}}\n'.encode()


def _encode_lines(stream: str, lines: bytes, stamp: str) -> bytes | None:
    """All records of ``lines`` (newline-terminated) in one go, or None if the batch needs
    the per-line path: a byte that JSON or moby escapes, non-ASCII, or a line of
    PARTIAL_SIZE or more. Plain ASCII text is its own JSON string content, so the records
    are the lines joined with the record framing: C-speed byte operations (~300 MB/s)
    where the per-line path manages ~30."""
    if lines.translate(None, _VERBATIM):
        return None
    pieces = lines.split(b"\n")
    pieces.pop()  # the empty text after the last newline
    if max(map(len, pieces)) >= PARTIAL_SIZE:
        return None
    tail = f'\\n","stream":"{stream}","time":"{stamp}"}}\n'.encode()
    return b'{"log":"' + (tail + b'{"log":"').join(pieces) + tail


class JsonFileLog:
    """Appends a container's output to its json-file log; one instance per container."""

    def __init__(self, path: Path, rotation: Rotation = Rotation()) -> None:
        self._path = path
        self._rotation = rotation
        self._fd = self._open(truncate=False)
        self._size = os.fstat(self._fd).st_size
        self._pending: dict[str, bytearray] = {}

    def write(self, stream: str, data: bytes) -> None:
        """Log a chunk of ``stream`` ("stdout" or "stderr") output as it was read."""
        buf = self._pending.setdefault(stream, bytearray())
        buf += data
        stamp = rfc3339_nano(time.time_ns())
        end = buf.rfind(b"\n") + 1
        if end and (out := _encode_lines(stream, bytes(buf[:end]), stamp)) is not None and (
                not self._rotation.max_size or self._size + len(out) <= self._rotation.max_size):
            self._write_all(out)
            del buf[:end]
        records: list[bytes] = []
        start = 0
        while True:
            nl = buf.find(b"\n", start, start + PARTIAL_SIZE)
            if nl >= 0:
                records.append(_record(stream, bytes(buf[start:nl + 1]), stamp))
                start = nl + 1
            elif len(buf) - start >= PARTIAL_SIZE:
                records.append(_record(stream, bytes(buf[start:start + PARTIAL_SIZE]), stamp))
                start += PARTIAL_SIZE
            else:
                break
        del buf[:start]
        self._write(records)

    def flush_partial(self) -> None:
        """Write unterminated tails (the container's output ended without a newline)."""
        stamp = rfc3339_nano(time.time_ns())
        records = []
        for stream, buf in self._pending.items():
            if buf:
                records.append(_record(stream, bytes(buf), stamp))
                buf.clear()
        self._write(records)

    def close(self) -> None:
        if self._fd < 0:
            return
        self.flush_partial()
        os.close(self._fd)
        self._fd = -1

    def _write(self, records: list[bytes]) -> None:
        """Write whole records, rotating between two records when the next would not fit."""
        limit = self._rotation.max_size
        if not limit:
            self._write_all(b"".join(records))
            return
        batch: list[bytes] = []
        batch_size = 0
        for rec in records:
            if self._size + batch_size + len(rec) > limit and self._size + batch_size > 0:
                self._write_all(b"".join(batch))
                batch.clear()
                batch_size = 0
                self._rotate()
            batch.append(rec)
            batch_size += len(rec)
        self._write_all(b"".join(batch))

    def _write_all(self, out: bytes) -> None:
        view = memoryview(out)
        while view:
            written = os.write(self._fd, view)
            view = view[written:]
        self._size += len(out)

    def _rotate(self) -> None:
        os.close(self._fd)
        self._fd = -1
        keep = self._rotation.max_file
        # Oldest first, so each rename overwrites only the file that falls off the end.
        for index in range(keep - 1, 0, -1):
            try:
                os.rename(rotated_path(self._path, index - 1), rotated_path(self._path, index))
            except FileNotFoundError:
                pass  # fewer files than max-file so far
        self._fd = self._open(truncate=keep == 1)
        self._size = 0

    def _open(self, truncate: bool) -> int:
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC
        return os.open(self._path, flags | (os.O_TRUNC if truncate else 0), 0o640)
