"""The client's transport seam: how one HTTP/1.1 exchange reaches the daemon.

::

    EngineAPI (api.py: /v1.45 prefix, errors by status, JSON)
        │  Transport.exchange(method, target, headers, body) ──▶ Response
        │                                     Response.detach() ──▶ Stream (after 101)
        ├── UnixSocketTransport (unix.py)  unix:///run/berth/berth.sock
        │     our own HTTP/1.1 framing (http1.py): no http.client, ssl or typing to import,
        │     so every ``berth`` start stays lean
        └── H11Transport (h11transport.py)  tcp://host:port, plain or TLS (tls.py)
              h11's HTTP/1.1 over TCP; imported only when -H names a tcp:// host

Each exchange opens a fresh connection (as the docker CLI's short-lived commands
effectively do), so streams and hijacks never share one. ``exchange`` returns once the
status line and headers are in; the ``Response`` then owns the connection: read its body,
or, once the daemon switched protocols (``101 UPGRADED`` for attach and exec), ``detach``
the raw duplex ``Stream``.

The Protocols exist for the type checker only (this module is on every CLI start, and
``typing`` costs ~10 ms there): implementations conform structurally, as stdcopy's
``Reader`` does.
"""

from __future__ import annotations

from berth import errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping
    from typing import IO, Protocol

    from berth.client.tls import TLSOptions

    Body = bytes | IO[bytes] | Iterable[bytes] | None

    class Stream(Protocol):
        """A hijacked connection's raw bytes both ways. ``read``/``read1`` return what is
        available (b"" at EOF); ``close_write`` is stdin's EOF, the output keeps coming;
        ``shutdown`` ends both directions (it wakes a reader in another thread)."""

        def read(self, size: int = -1, /) -> bytes: ...
        def read1(self, size: int = -1, /) -> bytes: ...
        def write(self, data: bytes, /) -> None: ...
        def close_write(self) -> None: ...
        def shutdown(self) -> None: ...
        def close(self) -> None: ...

    class Response(Protocol):
        """A response whose head has arrived; the body is read on demand (as
        ``io.BufferedReader`` reads) and the connection closes with it."""

        status: int
        reason: str

        def getheader(self, name: str, default: str = "", /) -> str: ...
        def read(self, size: int = -1, /) -> bytes: ...
        def read1(self, size: int = ..., /) -> bytes: ...
        def readline(self) -> bytes: ...
        def __iter__(self) -> Iterator[bytes]: ...
        def detach(self) -> Stream: ...
        def close(self) -> None: ...
        def __enter__(self) -> Response: ...
        def __exit__(self, *exc: object) -> None: ...

    class Transport(Protocol):
        """Carries one exchange per connection to the daemon at ``host``."""

        @property
        def host(self) -> str: ...

        def exchange(self, method: str, target: str, headers: Mapping[str, str] | None,
                     body: Body) -> Response:
            """Send the request and read the response's head. A daemon that answers early
            (an error) while the body is still going out is heard, not the broken pipe.
            Raises ``DaemonUnreachable`` when no connection can be made."""
            ...

DEFAULT_HOST = "unix:///run/berth/berth.sock"
SEND_BLOCK = 64 * 1024
DEFAULT_TCP_PORT = 2375  # docker's ports for tcp:// without one
DEFAULT_TLS_PORT = 2376


class DaemonUnreachable(errors.Unavailable):
    """No daemon answers at the host; the CLI prints docker's "Cannot connect" line."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"cannot connect to {host}: {reason}")
        self.host = host
        self.reason = reason


class TLSFailure(DaemonUnreachable):
    """The TLS set-up failed: unreadable certificate files, or a handshake the daemon or
    we refused. The CLI prints the reason (docker's "error during connect")."""


class ProtocolError(errors.BerthError):
    """The daemon's response is not valid HTTP/1.1, or it ended before its framing did."""


def body_blocks(body: IO[bytes] | Iterable[bytes]) -> Iterator[bytes]:
    """A streamed request body (a file's ``read``, or an iterable) as non-empty blocks."""
    read = getattr(body, "read", None)
    if read is not None:
        while block := read(SEND_BLOCK):
            yield block
        return
    for block in body:
        if block:
            yield bytes(block)


def parse_host(text: str, tls: bool = False) -> str:
    """A ``-H`` value in its full form, as docker's ParseHost reads it: ``unix://PATH``
    (empty: the default socket), ``tcp://HOST:PORT`` (no port: 2375, or 2376 with TLS; no
    host: 127.0.0.1); a bare ``HOST:PORT`` is tcp."""
    text = text.strip()
    if not text:
        return DEFAULT_HOST
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "tcp", text
    if scheme == "unix":
        return f"unix://{rest}" if rest else DEFAULT_HOST
    if scheme != "tcp":
        raise errors.InvalidArgument(f"Invalid bind address format: {text}")
    address, slash, path = rest.partition("/")
    if slash and path:
        raise errors.InvalidArgument(f"Invalid bind address format: {text}")
    hostname, port = split_address(address, DEFAULT_TLS_PORT if tls else DEFAULT_TCP_PORT)
    shown = f"[{hostname}]" if ":" in hostname else hostname
    return f"tcp://{shown}:{port}"


def split_address(address: str, default_port: int) -> tuple[str, int]:
    """``host:port``, ``[v6]:port``, ``host`` or ``:port`` as (host, port)."""
    if address.startswith("["):
        hostname, bracket, tail = address[1:].partition("]")
        if not bracket or (tail and not tail.startswith(":")):
            raise errors.InvalidArgument(f"Invalid bind address format: {address}")
        port_text = tail[1:]
    else:
        hostname, _, port_text = address.rpartition(":") if ":" in address else (
            address, "", "")
    if port_text and not (port_text.isdigit() and 0 < int(port_text) < 65536):
        raise errors.InvalidArgument(f"Invalid bind address format: {address}")
    return hostname or "127.0.0.1", int(port_text) if port_text else default_port


def transport_for(host: str, tls: TLSOptions | None = None,
                  timeout: float | None = None) -> Transport:
    """The transport that reaches ``host`` (a :func:`parse_host` form). TLS applies to
    tcp:// hosts only, as in docker."""
    scheme = host.partition("://")[0]
    if scheme == "unix":
        from berth.client.unix import UnixSocketTransport

        return UnixSocketTransport(host, timeout)
    if scheme == "tcp":
        from berth.client.h11transport import H11Transport

        return H11Transport.tcp(host, tls, timeout)
    raise errors.InvalidArgument(f"unsupported host {host!r}: unix:// or tcp:// only")
