"""``H11Transport``: HTTP/1.1 by h11 over a connection its dialer opens, for ``-H tcp://``
hosts, plain or TLS (``tls.TLSSocket``). Imported only when a host asks for it, so the unix
path never pays for h11, ``ssl`` or ``socket``.

h11 does the framing both ways; this module moves its bytes. For attach and exec the
request carries ``Connection: Upgrade``/``Upgrade: tcp``; on the daemon's ``101`` h11
switches protocols and hands back what it had buffered beyond the head
(``trailing_data``), which becomes the start of the raw ``Stream``, as on the unix path.
"""

from __future__ import annotations

import socket
import ssl

import h11

from berth import errors
from berth.client.stream import RECV_SIZE, BodyReader, RawStream
from berth.client.tls import TLSSocket, client_context, tls_reason
from berth.client.transport import (
    DEFAULT_TCP_PORT,
    DaemonUnreachable,
    ProtocolError,
    TLSFailure,
    body_blocks,
    split_address,
)

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from berth.client.stream import Socket
    from berth.client.tls import TLSOptions
    from berth.client.transport import Body

    Dialer = Callable[[], Socket]


class H11Transport:
    """One connection from ``dial`` per exchange, HTTP/1.1 by h11 on it."""

    def __init__(self, host: str, dial: Dialer, host_header: str = "localhost") -> None:
        self._host = host
        self._dial = dial
        self._host_header = host_header

    @classmethod
    def tcp(cls, host: str, tls: TLSOptions | None = None,
            timeout: float | None = None) -> H11Transport:
        """``tcp://HOST:PORT`` (as ``transport.parse_host`` writes it), TLS with ``tls``."""
        hostname, port = split_address(host.removeprefix("tcp://"), DEFAULT_TCP_PORT)
        context = None if tls is None else client_context(host, tls)
        shown = f"[{hostname}]" if ":" in hostname else hostname

        def dial() -> Socket:
            return dial_tcp(host, (hostname, port), context, timeout)

        return cls(host, dial, f"{shown}:{port}")

    @property
    def host(self) -> str:
        return self._host

    def exchange(self, method: str, target: str, headers: Mapping[str, str] | None,
                 body: Body) -> H11Response:
        sock = self._dial()
        try:
            conn = h11.Connection(h11.CLIENT)
            send_error: OSError | None = None
            try:
                self._send(conn, sock, method, target, headers, body)
            except OSError as err:  # the daemon may have answered early: hear it out
                send_error = err
            try:
                return H11Response(conn, sock, _head(conn, sock))
            except ProtocolError:
                if send_error is not None:
                    raise DaemonUnreachable(self._host, send_error.strerror or str(send_error)
                                            ) from send_error
                raise
        except BaseException:
            sock.close()
            raise

    def _send(self, conn: h11.Connection, sock: Socket, method: str, target: str,
              headers: Mapping[str, str] | None, body: Body) -> None:
        """The request: a ``bytes`` body gets a Content-Length and goes out in one write; a
        file or iterable is sent chunked, or as-is when ``headers`` give its length."""
        fields = [("Host", self._host_header)]
        given = set()
        for name, value in (headers or {}).items():
            fields.append((name, value))
            given.add(name.lower())
        try:
            if body is None or isinstance(body, bytes | bytearray):
                data = bytes(body or b"")
                if "content-length" not in given and (data or method in ("POST", "PUT",
                                                                          "PATCH")):
                    fields.append(("Content-Length", str(len(data))))
                out = _bytes(conn.send(h11.Request(method=method, target=target,
                                                   headers=fields)))
                if data:
                    out += _bytes(conn.send(h11.Data(data=data)))
                sock.sendall(out + _bytes(conn.send(h11.EndOfMessage())))
                return
            if "content-length" not in given and "transfer-encoding" not in given:
                fields.append(("Transfer-Encoding", "chunked"))
            sock.sendall(_bytes(conn.send(h11.Request(method=method, target=target,
                                                      headers=fields))))
            for block in body_blocks(body):
                sock.sendall(_bytes(conn.send(h11.Data(data=block))))
            sock.sendall(_bytes(conn.send(h11.EndOfMessage())))
        except h11.LocalProtocolError as err:  # a bad header, or a body off its length
            raise errors.InvalidArgument(f"invalid request: {err}") from err


def dial_tcp(host: str, address: tuple[str, int], context: ssl.SSLContext | None,
             timeout: float | None) -> Socket:
    """A connected TCP socket (Nagle off: requests go out in one or few writes, and
    attach's keystrokes must not wait), wrapped in TLS when there is a ``context``."""
    try:
        sock = socket.create_connection(address, timeout)
    except OSError as err:
        raise DaemonUnreachable(host, err.strerror or str(err)) from err
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if context is None:
            return sock
        tls = TLSSocket(sock, context, address[0], host)
        try:
            tls.handshake()
        except ssl.SSLError as err:
            raise TLSFailure(host, tls_reason(err)) from err
        except OSError as err:
            raise DaemonUnreachable(host, err.strerror or str(err)) from err
        return tls
    except BaseException:
        sock.close()
        raise


def _bytes(data: bytes | None) -> bytes:
    return data or b""


def _event(conn: h11.Connection, sock: Socket) -> object:
    """The next event (never NEED_DATA: it receives as h11 needs); a malformed or cut
    response is a ``ProtocolError``."""
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as err:
            raise ProtocolError(f"malformed response: {err}") from err
        if event is not h11.NEED_DATA:
            return event
        try:
            data = sock.recv(RECV_SIZE)
        except OSError as err:  # reset or timed out: the response ends before its framing
            raise ProtocolError(f"reading from the daemon: {err.strerror or err}") from err
        conn.receive_data(data)


def _head(conn: h11.Connection, sock: Socket) -> h11.Response | h11.InformationalResponse:
    """The response's head, skipping interim answers (100 Continue); 101 is final."""
    while True:
        event = _event(conn, sock)
        if isinstance(event, h11.InformationalResponse):
            if event.status_code == 101:
                return event
            continue
        if isinstance(event, h11.Response):
            return event
        raise ProtocolError("connection closed before the response")


class H11Response(BodyReader):
    """A response whose head has arrived; its body comes from h11's ``Data`` events."""

    def __init__(self, conn: h11.Connection, sock: Socket,
                 head: h11.Response | h11.InformationalResponse) -> None:
        self._conn = conn
        self._sock = sock
        self.status = head.status_code
        self.reason = head.reason.decode("latin-1")
        self._headers: dict[str, str] = {}
        for name, value in head.headers:
            key, text = name.decode("ascii"), value.decode("latin-1")
            seen = self._headers.get(key)
            self._headers[key] = text if seen is None else f"{seen}, {text}"
        self._done = head.status_code == 101  # what follows is no longer HTTP
        self.closed = False

    def getheader(self, name: str, default: str = "") -> str:
        return self._headers.get(name.lower(), default)

    def _receive(self, limit: int) -> bytes:
        while not self._done:
            event = _event(self._conn, self._sock)
            if isinstance(event, h11.Data):
                data = bytes(event.data)
                self._pending = data[limit:]
                return data[:limit]
            if isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                self._done = True
            elif event is h11.PAUSED:  # a 200 raw stream: the rest is not HTTP
                self._done = True
        return b""

    def detach(self) -> RawStream:
        """The connection as a raw stream with the bytes h11 had buffered beyond the head
        (after ``101 UPGRADED``); the response no longer owns the socket."""
        self.closed = True
        leftover, _ = self._conn.trailing_data
        return RawStream(self._sock, self._pending + bytes(leftover))

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._sock.close()

    def __enter__(self) -> H11Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
