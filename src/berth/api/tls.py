"""TLS for berthd's tcp:// listeners (``--tls``/``--tlsverify``), with the half-close that
attach and exec need.

asyncio's own TLS transport ends the whole connection when the client half-closes (its
SSL protocol shuts down on EOF), and OpenSSL 3 treats a TCP EOF without close_notify as a
fatal error after which nothing more can be sent. Yet that is exactly how docker's CLI
(and berth's) signals stdin's EOF on a hijacked connection under TLS: it half-closes the
TCP socket and keeps reading the container's output. So berthd terminates TLS itself, an
``ssl.SSLObject`` between memory BIOs per connection (``OP_IGNORE_UNEXPECTED_EOF``: that
EOF reads as the end of the client's data, not as an error), and hands the plaintext to
the API server over a socket pair, which aiohttp serves like any unix connection::

    client ══TLS over TCP══▶ relay (SSLObject) ──plaintext, socketpair──▶ aiohttp handler
    client's FIN or close_notify ──▶ write_eof on the pair: the hijack sees stdin's EOF
    ◀══ output keeps flowing until aiohttp closes its end ──▶ close_notify, then FIN

Each connection is one handler task of the server with a TaskGroup of its two pumps.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import ssl
from collections.abc import Callable
from pathlib import Path

from berth.errors import InvalidArgument

log = logging.getLogger(__name__)

HANDSHAKE_TIMEOUT = 30.0
CHUNK = 64 * 1024


def server_context(cert: Path, key: Path, ca: Path | None, verify: bool) -> ssl.SSLContext:
    """dockerd's: TLS 1.2 or newer; with ``verify``, client certificates signed by ``ca``
    are required (``--tlsverify``)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(cert, key)
        if ca is not None:
            context.load_verify_locations(ca)
    except (OSError, ssl.SSLError) as err:
        raise InvalidArgument(f"TLS: cannot load {cert}, {key} or {ca}: {err}") from err
    if verify:
        context.verify_mode = ssl.CERT_REQUIRED
    context.options |= ssl.OP_IGNORE_UNEXPECTED_EOF
    return context


async def serve_tls(app: Callable[[], asyncio.Protocol], host: str, port: int,
                    context: ssl.SSLContext) -> asyncio.Server:
    """Listen on ``host:port``; each connection's plaintext is served by a protocol from
    ``app`` (aiohttp's ``runner.server``)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        try:
            await _Relay(context, reader, writer).run(app)
        except* (ssl.SSLError, OSError, TimeoutError) as group:  # the client's doing
            log.debug("TLS connection from %s ended: %s", peer, group.exceptions[0])
        finally:
            writer.close()

    return await asyncio.start_server(handle, host, port)


class _Relay:
    """One client connection: TLS on the outside, plaintext to the API server inside."""

    def __init__(self, context: ssl.SSLContext, reader: asyncio.StreamReader,
                 writer: asyncio.StreamWriter) -> None:
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(self._incoming, self._outgoing, server_side=True)
        self._reader = reader
        self._writer = writer

    async def run(self, app: Callable[[], asyncio.Protocol]) -> None:
        async with asyncio.timeout(HANDSHAKE_TIMEOUT):
            await self._handshake()
        ours, theirs = socket.socketpair()
        loop = asyncio.get_running_loop()
        try:
            await loop.connect_accepted_socket(app, theirs)
        except BaseException:
            theirs.close()
            ours.close()
            raise
        inner_reader, inner_writer = await asyncio.open_connection(sock=ours)
        try:
            async with asyncio.TaskGroup() as tasks:
                tasks.create_task(self._client_to_server(inner_writer))
                tasks.create_task(self._server_to_client(inner_reader))
        finally:
            inner_writer.close()

    async def _flush(self) -> None:
        if self._outgoing.pending:
            self._writer.write(self._outgoing.read())
            await self._writer.drain()

    async def _receive(self) -> bool:
        """One read from the client into the TLS engine; False at its EOF."""
        data = await self._reader.read(CHUNK)
        if data:
            self._incoming.write(data)
        else:
            self._incoming.write_eof()
        return bool(data)

    async def _handshake(self) -> None:
        while True:
            try:
                self._ssl.do_handshake()
                break
            except ssl.SSLError as err:
                if not isinstance(err, ssl.SSLWantReadError):
                    await self._flush()  # the alert tells the client why (no certificate)
                    raise
                await self._flush()
                if not await self._receive():
                    raise ConnectionResetError("client closed during the TLS handshake"
                                               ) from None
        await self._flush()

    async def _client_to_server(self, inner: asyncio.StreamWriter) -> None:
        """Decrypt what the client sends; its EOF (FIN or close_notify) is a half-close."""
        while True:
            try:
                data = self._ssl.read(CHUNK)
            except ssl.SSLWantReadError:
                await self._flush()  # a TLS 1.3 post-handshake answer, if any
                await self._receive()
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                data = b""
            if not data:
                if inner.can_write_eof():
                    inner.write_eof()
                return
            inner.write(data)
            await inner.drain()

    async def _server_to_client(self, inner: asyncio.StreamReader) -> None:
        """Encrypt the API server's answer; at its end, close_notify and close."""
        while data := await inner.read(CHUNK):
            self._ssl.write(data)
            await self._flush()
        try:
            self._ssl.unwrap()
        except ssl.SSLWantReadError:
            pass  # the client's close_notify need not be awaited
        await self._flush()
        if self._writer.can_write_eof():
            self._writer.write_eof()
        self._writer.close()
