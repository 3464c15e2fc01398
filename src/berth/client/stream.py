"""The raw duplex stream of a hijacked connection (attach, exec start) once the daemon has
answered ``101 UPGRADED``: the bytes that arrived together with the response head, then
whatever the socket brings. Both transports hand one over from ``Response.detach``.

``sock`` is anything with ``recv``/``sendall``/``shutdown``/``close``: a plain socket, or
``tls.TLSSocket``, whose ``shutdown(SHUT_WR)`` half-closes the TCP connection under TLS
(as docker's CLI does), so the daemon still sends the container's output after stdin's EOF.
"""

from __future__ import annotations

import _socket

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Protocol

    class Socket(Protocol):
        def recv(self, size: int, /) -> bytes: ...
        def sendall(self, data: bytes, /) -> None: ...
        def shutdown(self, how: int, /) -> None: ...
        def close(self) -> None: ...

RECV_SIZE = 64 * 1024


class BodyReader:
    """``read``/``read1``/``readline``/iteration, as ``io.BufferedReader`` has them, over
    a response body's ``_receive``: up to ``limit`` bytes, waiting for at most one receive,
    b"" at the end. Both transports' responses read their bodies through this."""

    _pending = b""  # body bytes received but not yet returned (readline's read-ahead)

    def _receive(self, limit: int) -> bytes:
        raise NotImplementedError

    def _next(self, limit: int) -> bytes:
        if self._pending:
            chunk, self._pending = self._pending[:limit], self._pending[limit:]
            return chunk
        return self._receive(limit)

    def read1(self, size: int = RECV_SIZE) -> bytes:
        """What is available, up to ``size``, waiting only if nothing is; b"" at the end."""
        return self._next(size if size > 0 else RECV_SIZE)

    def read(self, size: int = -1) -> bytes:
        """``size`` bytes (fewer only at the end), or the whole rest of the body."""
        parts: list[bytes] = []
        want = size if size >= 0 else -1
        while want != 0:
            chunk = self._next(want if want > 0 else RECV_SIZE)
            if not chunk:
                break
            parts.append(chunk)
            if want > 0:
                want -= len(chunk)
        return b"".join(parts)

    def readline(self) -> bytes:
        """One line of the body including its b"\\n" (the last may lack one)."""
        line = b""
        while True:
            chunk = self._next(RECV_SIZE)
            if not chunk:
                return line
            end = chunk.find(b"\n")
            if end >= 0:
                self._pending = chunk[end + 1:] + self._pending
                return line + chunk[: end + 1]
            line += chunk

    def __iter__(self) -> Iterator[bytes]:
        while line := self.readline():
            yield line


class RawStream:
    """``read`` and ``read1`` both return what is available (at most one ``recv``)."""

    def __init__(self, sock: Socket, leftover: bytes = b"") -> None:
        self.sock = sock
        self._leftover = leftover

    def read1(self, size: int = RECV_SIZE) -> bytes:
        size = size if size > 0 else RECV_SIZE
        if self._leftover:
            chunk, self._leftover = self._leftover[:size], self._leftover[size:]
            return chunk
        return self.sock.recv(size)

    def read(self, size: int = -1) -> bytes:
        if size >= 0:
            return self.read1(size) if size else b""
        parts = []
        while chunk := self.read1(RECV_SIZE):
            parts.append(chunk)
        return b"".join(parts)

    def write(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close_write(self) -> None:
        """Stdin's EOF: half-close our side; the daemon's output keeps flowing."""
        try:
            self.sock.shutdown(_socket.SHUT_WR)
        except OSError:
            pass  # the daemon already closed the stream; nothing left to signal

    def shutdown(self) -> None:
        """End both directions: a reader blocked in another thread sees EOF."""
        try:
            self.sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass  # already gone: the reader has its EOF

    def close(self) -> None:
        self.sock.close()
