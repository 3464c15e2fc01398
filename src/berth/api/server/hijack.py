"""Hijacked connections for attach, as moby serves them.

The client asks ``Connection: Upgrade`` / ``Upgrade: tcp``; the server answers
``101 UPGRADED`` and from then on the socket carries raw bytes both ways (stdcopy frames
or raw tty output out, stdin in). A client that half-closes its side (stdin EOF) still
reads output until the server closes.

aiohttp has no public hijack; it does switch its parser off for ``Upgrade: tcp`` (it
serves websockets the same way), and ``set_parser`` lets us receive the raw bytes. This
module is the one place that relies on that, with aiohttp pinned in pyproject.
"""

from __future__ import annotations

import asyncio

from aiohttp import web
from aiohttp.web_protocol import RequestHandler

RAW_STREAM = "application/vnd.docker.raw-stream"
MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream"


class _Feed:
    """aiohttp payload parser that hands every received byte to a StreamReader."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self._reader.feed_data(data)
        return False, b""

    def feed_eof(self) -> None:
        self._reader.feed_eof()


class _HalfCloseHandler(RequestHandler):
    """aiohttp's handler, but a client's half-close (stdin EOF) keeps our side open so
    output still flows; swapped in as the connection's class once it is hijacked."""

    __slots__ = ()

    def eof_received(self) -> bool:  # type: ignore[override]
        parser = self._payload_parser
        if parser is not None:
            parser.feed_eof()
        return True


class _Response(web.StreamResponse):
    _length_check = False  # raw bytes after the headers: no chunked framing


class Hijacked:
    """The raw connection: ``reader`` yields the client's bytes, ``write`` sends."""

    def __init__(self, request: web.Request, reader: asyncio.StreamReader) -> None:
        self.reader = reader
        self._request = request
        transport = request.transport
        assert transport is not None
        self._transport = transport

    async def write(self, data: bytes) -> None:
        if self._transport.is_closing():
            raise ConnectionResetError("client went away")
        self._transport.write(data)
        if self._transport.get_write_buffer_size() > 1 << 20:
            await self._request.protocol._drain_helper()

    def close(self) -> None:
        if not self._transport.is_closing():
            self._transport.close()


async def hijack(request: web.Request, multiplexed: bool) -> tuple[web.StreamResponse, Hijacked]:
    upgrade = request.headers.get("Upgrade", "").lower() == "tcp"
    content_type = MULTIPLEXED_STREAM if multiplexed else RAW_STREAM
    headers = {"Content-Type": content_type}
    if upgrade:
        headers.update({"Connection": "Upgrade", "Upgrade": "tcp"})
    response = _Response(status=101 if upgrade else 200, reason="UPGRADED" if upgrade else None,
                         headers=headers)
    reader = asyncio.StreamReader()
    protocol = request.protocol
    protocol.keep_alive(False)
    await response.prepare(request)
    if upgrade:
        protocol.set_parser(_Feed(reader))  # type: ignore[arg-type]
        protocol.__class__ = _HalfCloseHandler
    else:
        reader.feed_eof()
    return response, Hijacked(request, reader)
