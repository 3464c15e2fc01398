"""The Engine API's conventions over ``berth.client.http1``.

Every request goes through ``Transport.request``: it prefixes the API version
(``/v1.45/containers/json``), sends the body (bytes, or a file streamed in chunks) and
maps a failed status back to the ``berth.errors`` tree by status code, taking the message
from the JSON body's ``message`` (moby's ``errdefs`` convention). Callers get the open
``Response`` and decide whether to read it whole or stream it.

Like the rest of the client, this module imports only what start-up can afford (see
``http1`` and ``jsoncodec`` for why neither ``http.client`` nor ``json`` is used).
"""

from __future__ import annotations

from berth import errors
from berth.client import jsoncodec
from berth.client.http1 import Connection, ProtocolError, Response, connect_unix

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

    from berth.client.http1 import Body

    Params = Mapping[str, str | int | bool | tuple[str, ...] | None]

DEFAULT_HOST = "unix:///run/berth/berth.sock"
DEFAULT_API_VERSION = "1.45"


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


# Percent-encoding as urllib.parse's quote (safe="") and quote_plus (for query strings) do:
# letters, digits and "_.-~" stay, every other UTF-8 byte becomes %XX.
_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~")
_ESCAPES = [chr(b) if b in _UNRESERVED else f"%{b:02X}" for b in range(256)]


def quote(text: str, plus: bool = False) -> str:
    """``text`` percent-encoded; with ``plus`` a space is "+" (form encoding)."""
    data = text.encode()
    if _UNRESERVED.issuperset(data):
        return text
    escaped = "".join([_ESCAPES[b] for b in data])
    return escaped.replace("%20", "+") if plus else escaped


def quote_id(ident: str) -> str:
    """A container or image reference as one path segment."""
    return quote(ident)


def query(params: Params | None) -> str:
    if not params:
        return ""
    pairs: list[str] = []
    for key, value in params.items():
        if isinstance(value, tuple):  # a repeated parameter: changes=..&changes=..
            pairs.extend(f"{quote(key, True)}={quote(item, True)}" for item in value)
        elif value is not None:
            pairs.append(f"{quote(key, True)}={quote(_param(value), True)}")
    return "?" + "&".join(pairs) if pairs else ""


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

    def connect(self) -> Connection:
        try:
            return Connection(connect_unix(self._path, self.timeout))
        except OSError as err:
            raise DaemonUnreachable(self.host, err.strerror or str(err)) from err

    def exchange(self, conn: Connection, method: str, path: str,
                 params: Params | None = None, body: Body = None,
                 headers: Mapping[str, str] | None = None) -> Response:
        """Write one request on ``conn`` and read its status line and headers.

        If the daemon stops reading the body and answers early (an error), that answer is
        what counts, not the broken pipe."""
        send_error: OSError | None = None
        try:
            conn.send(method, self.url(path, params), headers, body)
        except OSError as err:
            send_error = err
        try:
            return conn.response(method)
        except ProtocolError:
            conn.close()
            if send_error is not None:
                raise DaemonUnreachable(self.host, send_error.strerror or str(send_error)
                                        ) from send_error
            raise

    def request(self, method: str, path: str, params: Params | None = None,
                body: Body = None, headers: Mapping[str, str] | None = None) -> Response:
        """Send a request and return the response once its status is a success."""
        conn = self.connect()
        try:
            resp = self.exchange(conn, method, path, params, body, headers)
        except BaseException:
            conn.close()
            raise
        return self.check(resp)

    def check(self, resp: Response) -> Response:
        if resp.status < 400:
            return resp
        with resp:
            raw = resp.read()
        raise errors.from_status(resp.status, error_message(raw, resp.reason))

    def json(self, method: str, path: str, params: Params | None = None,
             payload: Any = None) -> Any:
        """A request with an optional JSON body whose answer is one JSON document."""
        body = None if payload is None else jsoncodec.dumps(payload).encode()
        headers = {"Content-Type": "application/json"} if body is not None else {}
        with self.request(method, path, params, body, headers) as resp:
            raw = resp.read()
        return jsoncodec.loads(raw) if raw.strip() else None


def error_message(raw: bytes, fallback: str) -> str:
    """The ``message`` of an Engine API error body, or the raw text if it is not JSON."""
    try:
        doc = jsoncodec.loads(raw)
    except ValueError:
        return raw.decode(errors="replace").strip() or fallback
    if isinstance(doc, dict) and isinstance(doc.get("message"), str):
        return str(doc["message"])
    return raw.decode(errors="replace").strip() or fallback


def json_lines(resp: Response) -> Iterator[Any]:
    """Decode a JSON-lines stream (progress, events) as documents arrive, until EOF."""
    with resp:
        for line in resp:
            if line.strip():
                yield jsoncodec.loads(line)


def raw_chunks(resp: Response, size: int = 32 * 1024) -> Iterator[bytes]:
    """Bytes of a streamed body as they arrive (``read1`` does not wait to fill ``size``)."""
    with resp:
        while chunk := resp.read1(size):
            yield chunk
