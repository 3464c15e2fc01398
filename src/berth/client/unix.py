"""``UnixSocketTransport``: the daemon's unix socket, spoken to by our own HTTP/1.1 framing
(``http1``), the transport of every local ``berth`` command and so kept lean: the C
``_socket`` module and nothing the interpreter has not loaded already."""

from __future__ import annotations

import _socket

from berth import errors
from berth.client.http1 import Connection, Response
from berth.client.transport import DaemonUnreachable, ProtocolError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from berth.client.transport import Body


def connect_unix(path: str, timeout: float | None = None) -> _socket.socket:
    """A connected AF_UNIX stream socket (close-on-exec, as ``socket.socket`` makes it)."""
    sock = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        if timeout is not None:
            sock.settimeout(timeout)
        sock.connect(path)
    except BaseException:
        sock.close()
        raise
    return sock


class UnixSocketTransport:
    """``unix://PATH``: one connection per exchange."""

    def __init__(self, host: str, timeout: float | None = None) -> None:
        scheme, _, path = host.partition("://")
        if scheme != "unix" or not path:
            raise errors.InvalidArgument(f"not a unix:// host: {host!r}")
        self._host = host
        self.path = path
        self.timeout = timeout

    @property
    def host(self) -> str:
        return self._host

    def exchange(self, method: str, target: str, headers: Mapping[str, str] | None,
                 body: Body) -> Response:
        try:
            conn = Connection(connect_unix(self.path, self.timeout))
        except OSError as err:
            raise DaemonUnreachable(self._host, err.strerror or str(err)) from err
        try:
            return exchange(conn, self._host, method, target, headers, body)
        except BaseException:
            conn.close()
            raise


def exchange(conn: Connection, host: str, method: str, target: str,
             headers: Mapping[str, str] | None, body: Body) -> Response:
    """Write one request on ``conn`` and read its status line and headers.

    If the daemon stops reading the body and answers early (an error), that answer is what
    counts, not the broken pipe."""
    send_error: OSError | None = None
    try:
        conn.send(method, target, headers, body)
    except OSError as err:
        send_error = err
    try:
        return conn.response(method)
    except ProtocolError:
        if send_error is not None:
            raise DaemonUnreachable(host, send_error.strerror or str(send_error)
                                    ) from send_error
        raise
