"""The Engine API's conventions over a ``Transport``.

Every request goes through ``EngineAPI.request``: it prefixes the API version
(``/v1.45/containers/json``), sends the body (bytes, or a file streamed in chunks) and
maps a failed status back to the ``berth.errors`` tree by status code, taking the message
from the JSON body's ``message`` (moby's ``errdefs`` convention). Callers get the open
``Response`` and decide whether to read it whole, stream it, or detach a hijacked stream.
"""

from __future__ import annotations

import json

from berth import errors

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping
    from typing import Any

    from berth.client.transport import Body, Response, Transport

    Params = Mapping[str, str | int | bool | tuple[str, ...] | None]

DEFAULT_API_VERSION = "1.45"

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


class EngineAPI:
    """The Engine API of one daemon, reached through ``transport``."""

    def __init__(self, transport: Transport, api_version: str = DEFAULT_API_VERSION) -> None:
        self.transport = transport
        self.api_version = api_version

    @property
    def host(self) -> str:
        return self.transport.host

    def url(self, path: str, params: Params | None = None) -> str:
        prefix = "" if path == "/_ping" else f"/v{self.api_version}"
        return f"{prefix}{path}{query(params)}"

    def request(self, method: str, path: str, params: Params | None = None,
                body: Body = None, headers: Mapping[str, str] | None = None) -> Response:
        """Send a request and return the response once its status is a success."""
        resp = self.transport.exchange(method, self.url(path, params), headers, body)
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


def json_lines(resp: Response) -> Iterator[Any]:
    """Decode a JSON-lines stream (progress, events) as documents arrive, until EOF."""
    with resp:
        for line in resp:
            if line.strip():
                yield json.loads(line)


def raw_chunks(resp: Response, size: int = 32 * 1024) -> Iterator[bytes]:
    """Bytes of a streamed body as they arrive (``read1`` does not wait to fill ``size``)."""
    with resp:
        while chunk := resp.read1(size):
            yield chunk
