"""A fake upstream DNS server (UDP and TCP on one loopback port) and query helpers, shared
by the DNS server's unit and integration tests."""

from __future__ import annotations

import asyncio
import socket
import struct
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import cast

from dnslib import QTYPE, RR, A, DNSRecord

from berth.net import dns

UPSTREAM_ANSWER = "192.0.2.53"  # TEST-NET-1: only ever data, never a destination


@dataclass
class FakeUpstream:
    """Answers every A query with UPSTREAM_ANSWER (or stays silent) and records names."""

    silent: bool = False
    udp_names: list[str] = field(default_factory=list)
    tcp_names: list[str] = field(default_factory=list)
    address: str = ""

    def reply(self, data: bytes, names: list[str]) -> bytes | None:
        query = DNSRecord.parse(data)
        names.append(str(query.q.qname))
        if self.silent:
            return None
        reply = query.reply()
        reply.add_answer(RR(query.q.qname, QTYPE.A, rdata=A(UPSTREAM_ANSWER), ttl=5))
        return bytes(reply.pack())


class _UpstreamUdp(asyncio.DatagramProtocol):
    def __init__(self, fake: FakeUpstream) -> None:
        self.fake = fake
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = self.fake.reply(data, self.fake.udp_names)
        if reply is not None and self.transport is not None:
            self.transport.sendto(reply, addr)


@asynccontextmanager
async def fake_upstream(silent: bool = False) -> AsyncIterator[FakeUpstream]:
    """A fake upstream on 127.0.0.1:<free port>; ``address`` is ``127.0.0.1:<port>``."""
    fake = FakeUpstream(silent=silent)
    udp, tcp = dns.bind_pair("127.0.0.1", 0)
    fake.address = f"127.0.0.1:{tcp.getsockname()[1]}"

    async def on_tcp(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            (n,) = struct.unpack("!H", await reader.readexactly(2))
            reply = fake.reply(await reader.readexactly(n), fake.tcp_names)
            if reply is not None:
                writer.write(struct.pack("!H", len(reply)) + reply)
                await writer.drain()
            else:
                await reader.read()  # hold the connection open, answering nothing
        finally:
            writer.close()

    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: _UpstreamUdp(fake), sock=udp)
    server = await asyncio.start_server(on_tcp, sock=tcp)
    try:
        yield fake
    finally:
        transport.close()
        server.close()


def query(name: str, qtype: str = "A") -> DNSRecord:
    return DNSRecord.question(name, qtype)


async def ask_udp(port: int, q: DNSRecord, host: str = "127.0.0.1",
                  timeout: float = 5.0) -> DNSRecord:
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.setblocking(False)
        await loop.sock_connect(s, (host, port))
        await loop.sock_sendall(s, bytes(q.pack()))
        data = await asyncio.wait_for(loop.sock_recv(s, 65535), timeout)
    return DNSRecord.parse(data)


async def ask_tcp(port: int, *queries: DNSRecord, host: str = "127.0.0.1") -> list[DNSRecord]:
    """Send every query on one connection and read the replies in order."""
    reader, writer = await asyncio.open_connection(host, port)
    try:
        answers = []
        for q in queries:
            data = bytes(q.pack())
            writer.write(struct.pack("!H", len(data)) + data)
            await writer.drain()
            (n,) = struct.unpack("!H", await asyncio.wait_for(reader.readexactly(2), 5))
            answers.append(DNSRecord.parse(await reader.readexactly(n)))
        return answers
    finally:
        writer.close()


def addresses(reply: DNSRecord) -> set[str]:
    return {str(rr.rdata) for rr in reply.rr if rr.rtype == QTYPE.A}
