"""HTTP/1.1 over the daemon's unix socket, with the Engine API's error convention.

Every request goes through ``Transport.request``: it prefixes the API version
(``/v1.45/containers/json``), sends the body (bytes, or a file streamed in chunks) and
maps a failed status back to the ``berth.errors`` tree by status code, taking the message
from the JSON body's ``message`` (moby's ``errdefs`` convention). Callers get the open
``HTTPResponse`` and decide whether to read it whole or stream it.
"""

from __future__ import annotations

import http.client
import json
import socket
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any
from urllib.parse import quote, urlencode

from berth import errors

DEFAULT_HOST = "unix:///run/berth/berth.sock"
DEFAULT_API_VERSION = "1.45"

Body = bytes | IO[bytes] | Iterable[bytes] | None
Params = Mapping[str, str | int | bool | tuple[str, ...] | None]


class DaemonUnreachable(errors.Unavailable):
    """No daemon answers on the socket; the CLI prints docker's "Cannot connect" line."""

    def __init__(self, host: str, reason: str) -> None:
        super().__init__(f"cannot connect to {host}: {reason}")
        self.host = host


def socket_path(host: str) -> str:
    """The filesystem path of a ``unix://`` host; other schemes are not served yet."""
    scheme, sep, path = host.partition("://")
    if not sep or scheme != "unix" or not path:
        raise errors.InvalidArgument(f"unsupported host {host!r}: only unix:// sockets")
    return path


class UnixHTTPConnection(http.client.HTTPConnection):
    """An ``HTTPConnection`` whose socket is AF_UNIX; the Host header stays ``localhost``."""

    def __init__(self, path: str, timeout: float | None = None) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            sock.settimeout(self.timeout)
        sock.connect(self._path)
        self.sock = sock


def quote_id(ident: str) -> str:
    """A container or image reference as one path segment."""
    return quote(ident, safe="")


def query(params: Params | None) -> str:
    if not params:
        return ""
    pairs: list[tuple[str, str]] = []
    for key, value in params.items():
        if isinstance(value, tuple):  # a repeated parameter: changes=..&changes=..
            pairs.extend((key, item) for item in value)
        elif value is not None:
            pairs.append((key, _param(value)))
    return "?" + urlencode(pairs) if pairs else ""


def _param(value: str | int | bool) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    return str(value)


class Transport:
    """One daemon endpoint; each request opens a fresh connection (as the docker CLI's
    short-lived commands effectively do), so streams and hijacks never share one."""

    def __init__(self, host: str = DEFAULT_HOST, api_version: str = DEFAULT_API_VERSION,
                 timeout: float | None = None) -> None:
        self.host = host
        self.api_version = api_version
        self.timeout = timeout
        self._path = socket_path(host)

    def url(self, path: str, params: Params | None = None) -> str:
        prefix = "" if path == "/_ping" else f"/v{self.api_version}"
        return f"{prefix}{path}{query(params)}"

    def connect(self) -> UnixHTTPConnection:
        conn = UnixHTTPConnection(self._path, timeout=self.timeout)
        try:
            conn.connect()
        except OSError as err:
            conn.close()
            raise DaemonUnreachable(self.host, err.strerror or str(err)) from err
        return conn

    def send(self, conn: UnixHTTPConnection, method: str, path: str,
             params: Params | None = None, body: Body = None,
             headers: Mapping[str, str] | None = None) -> None:
        """Write one request on ``conn``; http.client sends an iterable or a file without a
        Content-Length header chunked, reading it a block at a time."""
        try:
            conn.request(method, self.url(path, params), body=body, headers=dict(headers or {}))
        except OSError as err:
            raise DaemonUnreachable(self.host, err.strerror or str(err)) from err

    def request(self, method: str, path: str, params: Params | None = None,
                body: Body = None, headers: Mapping[str, str] | None = None,
                ) -> http.client.HTTPResponse:
        """Send a request and return the response once its status is a success."""
        conn = self.connect()
        self.send(conn, method, path, params, body, headers)
        return self.check(conn.getresponse())

    def check(self, resp: http.client.HTTPResponse) -> http.client.HTTPResponse:
        if resp.status < 400:
            return resp
        raw = resp.read()
        resp.close()
        raise errors.from_status(resp.status, error_message(raw, resp.reason))

    def json(self, method: str, path: str, params: Params | None = None,
             payload: Any = None) -> Any:
        """A request with an optional JSON body whose answer is one JSON document."""
        body = None if payload is None else json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        with self.request(method, path, params, body, headers) as resp:
            raw = resp.read()
        return json.loads(raw) if raw.strip() else None


def error_message(raw: bytes, fallback: str) -> str:
    """The ``message`` of an Engine API error body, or the raw text if it is not JSON."""
    try:
        doc = json.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip() or fallback
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return str(doc["message"])
    return raw.decode(errors="replace").strip() or fallback


def json_lines(resp: http.client.HTTPResponse) -> Iterator[Any]:
    """Decode a JSON-lines stream (progress, events) as documents arrive, until EOF."""
    with resp:
        for line in resp:
            if line.strip():
                yield json.loads(line)


def raw_chunks(resp: http.client.HTTPResponse, size: int = 32 * 1024) -> Iterator[bytes]:
    """Bytes of a streamed body as they arrive (``read1`` does not wait to fill ``size``)."""
    with resp:
        while chunk := resp.read1(size):
            yield chunk
