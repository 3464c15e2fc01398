"""The embedded DNS server of user-defined networks (docker's 127.0.0.11).

Each attached container gets its own pair of sockets, UDP and TCP, bound to
``127.0.0.11:53`` *inside its network namespace*: a thread enters the netns only to make
and bind them (a socket stays in the namespace it was created in), then berthd's event
loop serves them from the host side. So the server answers only the containers it was
attached for, knows which container asks by the socket a query arrives on, and never
listens on any interface of the host::

    container netns                          berthd (host netns, asyncio)
    ───────────────────────────              ───────────────────────────────────────────
    resolver ─▶ 127.0.0.11:53 ─(socket)─▶   answer(cid, query)
                                               A    name resolve() knows ─▶ its addresses
                                               AAAA name resolve() knows ─▶ empty NOERROR
                                               anything else ─▶ upstreams, reached from
                                                 the host netns (a loopback resolver of
                                                 the host works), reply relayed as is;
                                                 none answers in time ─▶ SERVFAIL

UDP queries are forwarded over UDP, TCP ones (2-byte length framing) over TCP, as docker
does, so a truncated UDP answer makes the client retry over TCP end to end.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import random
import socket
import struct
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dnslib import QTYPE, RCODE, RR, A, DNSError, DNSRecord

from berth.net import netns as nsmod

log = logging.getLogger(__name__)

Resolver = Callable[[str, str], list[str]]
"""(container id asking, query name lowercased without the trailing dot) → its IPv4
addresses; [] means "not a container name here": the query is forwarded."""

ADDRESS = "127.0.0.11"
PORT = 53
TTL = 600  # docker's
UPSTREAM_TIMEOUT = 2.0  # seconds for each upstream before the next one (or SERVFAIL)
TCP_IDLE = 10.0  # seconds a TCP client may keep an idle connection open


def upstream_address(upstream: str) -> tuple[str, int]:
    """``1.2.3.4``, ``::1``, ``1.2.3.4:5353`` or ``[::1]:5353`` → (host, port)."""
    with contextlib.suppress(ValueError):
        return str(ipaddress.ip_address(upstream)), PORT
    host, _sep, port = upstream.rpartition(":")
    return str(ipaddress.ip_address(host.strip("[]"))), int(port)


class Answerer:
    """The query → answer logic, apart from any socket, so it is tested over loopback."""

    def __init__(self, resolve: Resolver, timeout: float = UPSTREAM_TIMEOUT) -> None:
        self._resolve = resolve
        self._timeout = timeout

    async def answer(self, cid: str, data: bytes, upstreams: Sequence[str],
                     tcp: bool = False) -> bytes | None:
        """The reply to one query in wire format, or None for what cannot be parsed."""
        try:
            query = DNSRecord.parse(data)
        except (DNSError, struct.error, IndexError, ValueError):
            log.debug("container %s sent an unparseable DNS message", cid[:12])
            return None
        if query.header.qr or not query.questions:
            return None
        local = self._local(cid, query)
        if local is not None:
            return local if tcp else _fit_udp(query, local)
        for upstream in upstreams:
            reply = await self._forward(upstream, data, tcp)
            if reply is not None:
                return reply
        return _servfail(query)

    def _local(self, cid: str, query: DNSRecord) -> bytes | None:
        """The answer for a container name, or None to forward the query."""
        q = query.q
        if q.qtype not in (QTYPE.A, QTYPE.AAAA) or query.header.opcode != 0:
            return None
        name = str(q.qname).rstrip(".").lower()
        try:
            addresses = self._resolve(cid, name)
        except Exception:  # a resolver bug must not kill the serving task; say so
            log.exception("resolving %r for container %s", name, cid[:12])
            return _servfail(query)
        if not addresses:
            return None
        reply = query.reply()
        if q.qtype == QTYPE.A:
            shuffled = list(addresses)
            random.shuffle(shuffled)  # round robin over a name's containers, as docker
            for address in shuffled:
                reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(address), ttl=TTL))
        return bytes(reply.pack())

    async def _forward(self, upstream: str, data: bytes, tcp: bool) -> bytes | None:
        try:
            host, port = upstream_address(upstream)
        except ValueError:
            log.warning("ignoring the DNS upstream %r: not an address", upstream)
            return None
        try:
            exchange = _exchange_tcp if tcp else _exchange_udp
            return await asyncio.wait_for(exchange(host, port, data), self._timeout)
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as err:
            log.debug("DNS upstream %s: %r", upstream, err)
            return None


def _fit_udp(query: DNSRecord, packed: bytes) -> bytes:
    """A reply too big for the client's UDP size (512, or its EDNS size) goes out
    truncated, TC set and no answers, so the client asks again over TCP."""
    limit = max([512] + [rr.rclass for rr in query.ar if rr.rtype == QTYPE.OPT])
    if len(packed) <= limit:
        return packed
    reply = query.reply()
    reply.header.tc = 1
    return bytes(reply.pack())


def _servfail(query: DNSRecord) -> bytes:
    reply = query.reply()
    reply.header.rcode = RCODE.SERVFAIL
    return bytes(reply.pack())


async def _exchange_udp(host: str, port: int, data: bytes) -> bytes:
    """Send one query from the host netns and wait for the reply with its id."""
    loop = asyncio.get_running_loop()
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.setblocking(False)
        await loop.sock_connect(sock, (host, port))
        await loop.sock_sendall(sock, data)
        while True:
            reply = await loop.sock_recv(sock, 65535)
            if reply[:2] == data[:2]:
                return reply


async def _exchange_tcp(host: str, port: int, data: bytes) -> bytes:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        writer.write(struct.pack("!H", len(data)) + data)
        await writer.drain()
        return await _read_framed(reader)
    finally:
        writer.close()


async def _read_framed(reader: asyncio.StreamReader) -> bytes:
    (length,) = struct.unpack("!H", await reader.readexactly(2))
    return await reader.readexactly(length)


@dataclass
class _Attachment:
    """One container's sockets and the tasks serving them."""

    udp: asyncio.DatagramTransport
    udp_lost: asyncio.Future[None]
    tcp: asyncio.Server
    tasks: set[asyncio.Task[None]] = field(default_factory=set)
    writers: set[asyncio.StreamWriter] = field(default_factory=set)

    def spawn(self, coro: Coroutine[object, object, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def close(self) -> None:
        self.udp.close()
        self.tcp.close()
        for w in list(self.writers):
            w.close()
        for t in list(self.tasks):
            t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.tcp.wait_closed()
        await self.udp_lost  # the transport closes its socket a loop turn after close()


class _UdpProtocol(asyncio.DatagramProtocol):
    def __init__(self, server: DnsServer, cid: str) -> None:
        self._server = server
        self._cid = cid
        self.lost: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(None)

    def datagram_received(self, data: bytes, addr: tuple[str | object, int]) -> None:
        att = self._server._attached.get(self._cid)
        if att is not None:
            att.spawn(self._reply(att, data, addr))

    async def _reply(self, att: _Attachment, data: bytes, addr: object) -> None:
        reply = await self._server._answer(self._cid, data, tcp=False)
        if reply is not None and not att.udp.is_closing():
            att.udp.sendto(reply, addr)  # type: ignore[arg-type]


class DnsServer:
    """docker's embedded DNS: per-container sockets, names from ``resolve``."""

    def __init__(self, resolve: Resolver, *, timeout: float = UPSTREAM_TIMEOUT) -> None:
        self._answerer = Answerer(resolve, timeout)
        self._attached: dict[str, _Attachment] = {}
        self._upstreams: dict[str, tuple[str, ...]] = {}

    async def attach(self, cid: str, netns: Path | str, upstreams: Sequence[str]) -> None:
        """Bind 127.0.0.11:53 (UDP and TCP) inside ``netns`` and answer there for ``cid``."""
        udp, tcp = await asyncio.to_thread(_bind_in_netns, Path(netns))
        await self.serve(cid, udp, tcp, upstreams)

    async def serve(self, cid: str, udp: socket.socket, tcp: socket.socket,
                    upstreams: Sequence[str]) -> None:
        """Answer for ``cid`` on sockets already bound (and ``tcp`` listening) wherever the
        caller made them: ``attach`` inside a netns, tests on a loopback port."""
        await self.detach(cid)
        loop = asyncio.get_running_loop()
        udp.setblocking(False)
        tcp.setblocking(False)
        try:
            transport, proto = await loop.create_datagram_endpoint(
                lambda: _UdpProtocol(self, cid), sock=udp)
            server = await asyncio.start_server(
                lambda r, w: self._serve_tcp(cid, r, w), sock=tcp)
        except BaseException:
            udp.close()
            tcp.close()
            raise
        self._upstreams[cid] = tuple(upstreams)
        self._attached[cid] = _Attachment(transport, proto.lost, server)

    async def detach(self, cid: str) -> None:
        """Close ``cid``'s sockets; nothing happens for a container not attached."""
        att = self._attached.pop(cid, None)
        self._upstreams.pop(cid, None)
        if att is not None:
            await att.close()

    async def close(self) -> None:
        for cid in list(self._attached):
            await self.detach(cid)

    def attached(self) -> list[str]:
        return list(self._attached)

    async def _answer(self, cid: str, data: bytes, tcp: bool) -> bytes | None:
        return await self._answerer.answer(cid, data, self._upstreams.get(cid, ()), tcp)

    async def _serve_tcp(self, cid: str, reader: asyncio.StreamReader,
                         writer: asyncio.StreamWriter) -> None:
        att = self._attached.get(cid)
        if att is None:
            writer.close()
            return
        task = asyncio.current_task()
        assert task is not None
        att.tasks.add(task)  # cancelled by detach like the UDP replies
        att.writers.add(writer)
        try:
            while True:
                data = await asyncio.wait_for(_read_framed(reader), TCP_IDLE)
                reply = await self._answer(cid, data, tcp=True)
                if reply is None:
                    break
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass  # the client closed, went idle or went away: nothing to answer
        finally:
            att.writers.discard(writer)
            att.tasks.discard(task)
            writer.close()


def _bind_in_netns(netns: Path) -> tuple[socket.socket, socket.socket]:
    """Make and bind both sockets in a thread that entered ``netns`` (they stay there)."""
    with nsmod.entered(netns):
        return bind_pair(ADDRESS, PORT)


def bind_pair(host: str, port: int) -> tuple[socket.socket, socket.socket]:
    """A UDP socket and a listening TCP socket on (host, port); port 0 picks one free
    port for both."""
    tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind((host, port))
        udp.bind((host, tcp.getsockname()[1]))
        tcp.listen(128)
    except OSError:
        tcp.close()
        udp.close()
        raise
    for s in (tcp, udp):
        os.set_inheritable(s.fileno(), False)
    return udp, tcp
