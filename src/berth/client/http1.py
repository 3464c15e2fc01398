"""HTTP/1.1 framing for the unix-socket transport (``unix.py``), written out by hand.

Why not ``http.client`` (or h11, which the tcp:// transport uses): importing it costs
~45 ms (it pulls in ``email.parser``, ``email.message`` and ``ssl``; h11 pulls in
``typing`` and ``re``), paid by every ``berth`` invocation, while the bare interpreter
starts in ~17 ms (``bench/startup.py`` measures the budget). The client needs a narrow
slice of HTTP/1.1, so it is written out here, strictly, with a test suite for each framing
case (``tests/unit/client/test_http1.py``); the server side stays on aiohttp. The socket is
the C ``_socket`` module: ``socket.py`` adds only enum wrappers, which cost milliseconds.

One connection carries one exchange (``Connection: close`` is implied by how we use it: a
fresh connection per request, as the docker CLI's short-lived commands effectively do)::

    request   METHOD target HTTP/1.1 CRLF  headers CRLF  CRLF  body
              body: bytes -> Content-Length; a file or iterable -> chunked, or streamed
              as-is when the caller gives its Content-Length
    response  HTTP/1.x SSS reason CRLF  headers CRLF  CRLF  body, framed by
              - no body at all: HEAD, 1xx, 204, 304
              - Transfer-Encoding ending in chunked: size[;ext] CRLF data CRLF ... 0 CRLF
                trailers CRLF (wins over Content-Length, as RFC 9112 6.3 says)
              - Content-Length: exactly that many bytes (fewer before EOF is an error)
              - neither: until the server closes the connection
    101       Switching Protocols (moby: "101 UPGRADED"): ``detach`` hands over the raw
              socket with the bytes that already arrived behind the headers.

A response that does not parse raises ``ProtocolError`` naming what was wrong.
"""

from __future__ import annotations

import _socket

from berth import errors
from berth.client.stream import RECV_SIZE, BodyReader, RawStream
from berth.client.transport import ProtocolError, body_blocks

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping
    from typing import IO

    from berth.client.transport import Body

GATHER_MIN = 256 * 1024  # a chunk this big is sent by sendmsg, not copied into its framing
MAX_LINE = 64 * 1024  # a status, header or chunk-size line longer than this is refused
MAX_HEADERS = 128
_NO_BODY_STATUSES = (204, 304)
_HEX = frozenset(b"0123456789abcdefABCDEF")
_TOKEN = frozenset(b"!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyz"
                   b"ABCDEFGHIJKLMNOPQRSTUVWXYZ")  # RFC 9110 tchar: a field name


class _Buffer:
    """Bytes received from the socket and not yet consumed."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock
        self.data = bytearray()
        self.eof = False

    def fill(self) -> bool:
        """One ``recv`` into the buffer; False at EOF."""
        if self.eof:
            return False
        try:
            chunk = self.sock.recv(RECV_SIZE)
        except OSError as err:  # reset or timed out: the response ends before its framing
            raise ProtocolError(f"reading from the daemon: {err.strerror or err}") from err
        if not chunk:
            self.eof = True
            return False
        self.data += chunk
        return True

    def line(self, what: str) -> bytes:
        """One CRLF- (or bare LF-) terminated line without its terminator."""
        start = 0
        while True:
            end = self.data.find(b"\n", start)
            if end >= 0:
                break
            if len(self.data) > MAX_LINE:
                raise ProtocolError(f"{what} longer than {MAX_LINE} bytes")
            start = len(self.data)
            if not self.fill():
                raise ProtocolError(f"connection closed in the {what}")
        if end > MAX_LINE:
            raise ProtocolError(f"{what} longer than {MAX_LINE} bytes")
        line = bytes(self.data[:end])
        del self.data[: end + 1]
        return line[:-1] if line.endswith(b"\r") else line

    def some(self, limit: int) -> bytes:
        """Up to ``limit`` bytes, waiting for at most one ``recv``; b"" only at EOF."""
        if not self.data and not self.fill():
            return b""
        chunk = bytes(self.data[:limit])
        del self.data[:limit]
        return chunk

    def take(self) -> bytes:
        chunk = bytes(self.data)
        self.data.clear()
        return chunk


class Headers:
    """Header fields in arrival order; lookups ignore case and join repeats with ", "
    (as ``http.client``'s ``getheader`` does)."""

    def __init__(self, fields: list[tuple[str, str]]) -> None:
        self.fields = fields
        self._index: dict[str, str] = {}
        for name, value in fields:
            key = name.lower()
            seen = self._index.get(key)
            self._index[key] = value if seen is None else f"{seen}, {value}"

    def get(self, name: str, default: str = "") -> str:
        return self._index.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._index


def _parse_fields(buf: _Buffer, what: str) -> Headers:
    fields: list[tuple[str, str]] = []
    while line := buf.line(what):
        if len(fields) >= MAX_HEADERS:
            raise ProtocolError(f"more than {MAX_HEADERS} {what} lines")
        if line[:1] in (b" ", b"\t"):
            raise ProtocolError(f"obsolete line folding in the {what}: {line[:80]!r}")
        name, colon, value = line.partition(b":")
        if not colon or not name or not _TOKEN.issuperset(name):
            raise ProtocolError(f"malformed {what} line: {line[:80]!r}")
        fields.append((name.decode("ascii"), value.strip(b" \t").decode("latin-1")))
    return Headers(fields)


def _parse_status(line: bytes) -> tuple[int, str]:
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if (version not in (b"HTTP/1.1", b"HTTP/1.0") or len(code) != 3 or not code.isdigit()
            or rest[3:4] not in (b"", b" ")):
        raise ProtocolError(f"malformed status line: {line[:80]!r}")
    return int(code), rest[4:].decode("latin-1")


def _content_length(value: str) -> int:
    """The one length a Content-Length field gives; repeated equal values are allowed."""
    lengths = {part.strip() for part in value.split(",")}
    if len(lengths) != 1:
        raise ProtocolError(f"conflicting Content-Length values: {value!r}")
    text = lengths.pop()
    if not text.isdigit() or not text.isascii():
        raise ProtocolError(f"malformed Content-Length: {value!r}")
    return int(text)


def _chunk_size(line: bytes) -> int:
    size = line.partition(b";")[0].rstrip(b" \t")  # chunk extensions are ignored
    if not size or len(size) > 16 or not _HEX.issuperset(size):
        raise ProtocolError(f"malformed chunk size line: {line[:80]!r}")
    return int(size, 16)


_NO_BODY, _LENGTH, _CHUNKED, _UNTIL_EOF = range(4)


class Response(BodyReader):
    """The status and headers of a response, and its body, read as it arrives.

    ``read``/``read1``/``readline``/iteration follow ``io.BufferedReader`` (``BodyReader``);
    the socket is closed by ``close`` (or the ``with`` block), or handed on by ``detach``.
    """

    def __init__(self, buf: _Buffer, method: str) -> None:
        self._buf = buf
        status, reason = _parse_status(buf.line("status line"))
        # 100 Continue and other interim answers precede the real one; 101 is final.
        while 100 <= status < 200 and status != 101:
            _parse_fields(buf, "header")
            status, reason = _parse_status(buf.line("status line"))
        self.status = status
        self.reason = reason
        self.headers = _parse_fields(buf, "header")
        self.trailers = Headers([])
        self._pending = b""  # body bytes read ahead by readline
        self._left = 0  # bytes left: of the body (_LENGTH) or of the current chunk
        self._mode = self._framing(method)
        self.closed = False

    def _framing(self, method: str) -> int:
        if method == "HEAD" or self.status < 200 or self.status in _NO_BODY_STATUSES:
            return _NO_BODY
        encoding = self.headers.get("Transfer-Encoding")
        if encoding:
            if encoding.rpartition(",")[2].strip().lower() == "chunked":
                self._left = -1  # the first chunk-size line comes next
                return _CHUNKED
            return _UNTIL_EOF
        length = self.headers.get("Content-Length")
        if length:
            self._left = _content_length(length)
            return _LENGTH if self._left else _NO_BODY
        return _UNTIL_EOF

    def getheader(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)

    @property
    def complete(self) -> bool:
        """True once the whole body (and any trailers) has been read."""
        return self._mode == _NO_BODY and not self._pending

    # -- body ---------------------------------------------------------------------------
    def _receive(self, limit: int) -> bytes:
        mode = self._mode
        if mode == _NO_BODY:
            return b""
        if mode == _UNTIL_EOF:
            chunk = self._buf.some(limit)
            if not chunk:
                self._mode = _NO_BODY
            return chunk
        if mode == _CHUNKED and self._left <= 0:
            if self._left == 0 and self._buf.line("chunk terminator"):
                raise ProtocolError("chunk data longer than its chunk size")
            self._left = _chunk_size(self._buf.line("chunk size line"))
            if self._left == 0:
                self.trailers = _parse_fields(self._buf, "trailer")
                self._finish()
                return b""
        chunk = self._buf.some(min(limit, self._left))
        if not chunk:
            what = "chunk" if mode == _CHUNKED else "body"
            raise ProtocolError(f"connection closed with {self._left} bytes of the {what} "
                                "still to come")
        self._left -= len(chunk)
        if mode == _LENGTH and self._left == 0:
            self._finish()
        return chunk

    def _finish(self) -> None:
        self._mode = _NO_BODY
        if self._buf.data:
            raise ProtocolError(f"{len(self._buf.data)} bytes follow the end of the body "
                                "(the framing headers are wrong)")

    # -- lifetime -----------------------------------------------------------------------
    def detach(self) -> RawStream:
        """The raw socket with the bytes already received after the headers: for a
        hijacked connection (``101``, or an old daemon's raw ``200``) whose bytes are no
        longer HTTP. The response no longer owns the socket."""
        self.closed = True
        return RawStream(self._buf.sock, self._pending + self._buf.take())

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._buf.sock.close()

    def __enter__(self) -> Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_field(text: str) -> str:
    if "\r" in text or "\n" in text:
        raise errors.InvalidArgument(f"line break in an HTTP request field: {text!r}")
    return text


class Connection:
    """One request and its response on a connected socket."""

    def __init__(self, sock: _socket.socket) -> None:
        self.sock = sock

    def send(self, method: str, target: str, headers: Mapping[str, str] | None = None,
             body: Body = None) -> None:
        """Write the request. A ``bytes`` body gets a Content-Length; a file (``read``) or
        an iterable of bytes is sent chunked, or as-is when ``headers`` give its
        Content-Length (it must then hold exactly that many bytes)."""
        head = [f"{_check_field(method)} {_check_field(target)} HTTP/1.1", "Host: localhost"]
        given: dict[str, str] = {}
        for name, value in (headers or {}).items():
            given[name.lower()] = value
            head.append(f"{_check_field(name)}: {_check_field(value)}")
        if body is None or isinstance(body, bytes | bytearray):
            data = bytes(body or b"")
            if "content-length" not in given and (data or method in ("POST", "PUT", "PATCH")):
                head.append(f"Content-Length: {len(data)}")  # as http.client sends them
            self.sock.sendall(_head(head) + data)
            return
        if "content-length" in given:
            self.sock.sendall(_head(head))
            self._send_exact(body, _content_length(given["content-length"]))
            return
        if "transfer-encoding" not in given:
            head.append("Transfer-Encoding: chunked")
        self.sock.sendall(_head(head))
        self._send_chunked(body)

    def _send_chunked(self, body: IO[bytes] | Iterable[bytes]) -> None:
        for block in body_blocks(body):
            if len(block) < GATHER_MIN:
                self.sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
            else:  # a big block is not copied into its framing: one gathering sendmsg
                _send_parts(self.sock, [b"%x\r\n" % len(block), block, b"\r\n"])
        self.sock.sendall(b"0\r\n\r\n")

    def _send_exact(self, body: IO[bytes] | Iterable[bytes], length: int) -> None:
        sent = 0
        for block in body_blocks(body):
            sent += len(block)
            if sent > length:
                raise errors.InvalidArgument(f"request body longer than its Content-Length "
                                             f"{length}")
            self.sock.sendall(block)
        if sent != length:
            raise errors.InvalidArgument(f"request body of {sent} bytes is shorter than its "
                                         f"Content-Length {length}")

    def response(self, method: str) -> Response:
        """Read the response's status line and headers; the body follows on demand."""
        return Response(_Buffer(self.sock), method)

    def close(self) -> None:
        self.sock.close()


def _send_parts(sock: _socket.socket, parts: list[bytes]) -> None:
    views = [memoryview(p) for p in parts]
    while views:
        sent = sock.sendmsg(views)
        while views and sent >= len(views[0]):
            sent -= len(views.pop(0))
        if views and sent:
            views[0] = views[0][sent:]


def _head(lines: list[str]) -> bytes:
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

