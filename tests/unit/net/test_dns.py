"""The embedded DNS server's answers, served on loopback sockets the test binds (no netns,
no root): the same serving code ``attach`` runs on sockets made inside a netns."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest
from dnslib import QTYPE, RCODE, DNSRecord
from tests.unit.net.dnsfakes import (
    UPSTREAM_ANSWER,
    addresses,
    ask_tcp,
    ask_udp,
    fake_upstream,
    query,
)

from berth.net import dns

NAMES = {("c1", "api"): ["10.1.0.2", "10.1.0.3"], ("c2", "db"): ["10.2.0.9"]}


class Calls:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def __call__(self, cid: str, name: str) -> list[str]:
        self.seen.append((cid, name))
        return list(NAMES.get((cid, name), []))


@asynccontextmanager
async def served(server: dns.DnsServer, cid: str,
                 upstreams: tuple[str, ...] = ()) -> AsyncIterator[int]:
    udp, tcp = dns.bind_pair("127.0.0.1", 0)
    port = tcp.getsockname()[1]
    await server.serve(cid, udp, tcp, upstreams)
    try:
        yield port
    finally:
        await server.detach(cid)


def run(body: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(asyncio.wait_for(body(), 20))


def test_a_record_of_a_container_name() -> None:
    async def body() -> None:
        calls = Calls()
        server = dns.DnsServer(calls)
        async with served(server, "c1") as port:
            reply = await ask_udp(port, query("API."))
        assert reply.header.rcode == RCODE.NOERROR
        assert addresses(reply) == {"10.1.0.2", "10.1.0.3"}
        assert {rr.ttl for rr in reply.rr} == {600}
        assert calls.seen == [("c1", "api")]  # lowercased, no trailing dot
    run(body)


def test_aaaa_of_a_known_name_is_an_empty_noerror() -> None:
    async def body() -> None:
        async with fake_upstream() as up:
            server = dns.DnsServer(Calls())
            async with served(server, "c1", (up.address,)) as port:
                reply = await ask_udp(port, query("api", "AAAA"))
        assert reply.header.rcode == RCODE.NOERROR
        assert reply.rr == []
        assert up.udp_names == []  # answered here, not forwarded
    run(body)


def test_names_are_scoped_to_the_asking_container() -> None:
    async def body() -> None:
        async with fake_upstream() as up:
            server = dns.DnsServer(Calls())
            async with served(server, "c1", (up.address,)) as p1, \
                    served(server, "c2", (up.address,)) as p2:
                assert addresses(await ask_udp(p2, query("db"))) == {"10.2.0.9"}
                forwarded = await ask_udp(p1, query("db"))  # c1 does not see db
        assert addresses(forwarded) == {UPSTREAM_ANSWER}
        assert up.udp_names == ["db."]
    run(body)


def test_unknown_name_is_forwarded_and_the_reply_relayed() -> None:
    async def body() -> None:
        async with fake_upstream() as up:
            server = dns.DnsServer(Calls())
            async with served(server, "c1", (up.address,)) as port:
                q = query("example.test")
                reply = await ask_udp(port, q)
        assert reply.header.id == q.header.id
        assert addresses(reply) == {UPSTREAM_ANSWER}
        assert up.udp_names == ["example.test."]
    run(body)


def test_a_dead_upstream_is_skipped_for_the_next() -> None:
    async def body() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as closed:
            closed.bind(("127.0.0.1", 0))
            dead = f"127.0.0.1:{closed.getsockname()[1]}"
        async with fake_upstream() as up:
            server = dns.DnsServer(Calls())
            async with served(server, "c1", (dead, up.address)) as port:
                reply = await ask_udp(port, query("example.test"))
        assert addresses(reply) == {UPSTREAM_ANSWER}
    run(body)


def test_no_upstream_is_servfail() -> None:
    async def body() -> None:
        server = dns.DnsServer(Calls())
        async with served(server, "c1", ()) as port:
            reply = await ask_udp(port, query("example.test"))
        assert reply.header.rcode == RCODE.SERVFAIL
    run(body)


def test_a_silent_upstream_times_out_to_servfail() -> None:
    async def body() -> None:
        async with fake_upstream(silent=True) as up:
            server = dns.DnsServer(Calls(), timeout=0.2)
            async with served(server, "c1", (up.address,)) as port:
                udp = await ask_udp(port, query("example.test"))
                (tcp,) = await ask_tcp(port, query("example.test"))
        assert udp.header.rcode == RCODE.SERVFAIL
        assert tcp.header.rcode == RCODE.SERVFAIL
        assert up.udp_names == ["example.test."]
        assert up.tcp_names == ["example.test."]
    run(body)


def test_tcp_answers_several_queries_on_one_connection_and_forwards_over_tcp() -> None:
    async def body() -> None:
        async with fake_upstream() as up:
            server = dns.DnsServer(Calls())
            async with served(server, "c1", (up.address,)) as port:
                known, unknown = await ask_tcp(port, query("api"), query("other.test"))
        assert addresses(known) == {"10.1.0.2", "10.1.0.3"}
        assert addresses(unknown) == {UPSTREAM_ANSWER}
        assert up.tcp_names == ["other.test."]
        assert up.udp_names == []
    run(body)


def test_other_types_of_a_known_name_are_forwarded() -> None:
    async def body() -> None:
        async with fake_upstream() as up:
            server = dns.DnsServer(Calls())
            async with served(server, "c1", (up.address,)) as port:
                await ask_udp(port, query("api", "MX"))
        assert up.udp_names == ["api."]
    run(body)


def test_garbage_gets_no_reply_and_serving_goes_on() -> None:
    async def body() -> None:
        server = dns.DnsServer(Calls())
        async with served(server, "c1") as port:
            loop = asyncio.get_running_loop()
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.setblocking(False)
                await loop.sock_connect(s, ("127.0.0.1", port))
                await loop.sock_sendall(s, b"\x01")
            reply = await ask_udp(port, query("api"))
        assert addresses(reply) == {"10.1.0.2", "10.1.0.3"}
    run(body)


def test_a_resolver_error_is_servfail() -> None:
    def broken(cid: str, name: str) -> list[str]:
        raise RuntimeError("bug")

    async def body() -> None:
        server = dns.DnsServer(broken)
        async with served(server, "c1") as port:
            reply = await ask_udp(port, query("api"))
        assert reply.header.rcode == RCODE.SERVFAIL
    run(body)


def test_detach_closes_the_sockets_and_is_idempotent() -> None:
    async def body() -> None:
        server = dns.DnsServer(Calls())
        udp, tcp = dns.bind_pair("127.0.0.1", 0)
        port = tcp.getsockname()[1]
        await server.serve("c1", udp, tcp, ())
        (open_conn,) = await ask_tcp(port, query("api"))
        assert addresses(open_conn)
        await server.detach("c1")
        await server.detach("c1")
        assert server.attached() == []
        assert udp.fileno() == -1 and tcp.fileno() == -1
        with pytest.raises(ConnectionRefusedError):
            await ask_tcp(port, query("api"))
        dns.bind_pair("127.0.0.1", port)[0].close()  # the port is free again
    run(body)


def test_a_big_answer_is_truncated_over_udp_and_whole_over_tcp() -> None:
    many = [f"10.9.{i // 250}.{i % 250 + 1}" for i in range(60)]  # > 512 bytes of answers

    async def body() -> None:
        server = dns.DnsServer(lambda cid, name: many)
        async with served(server, "c1") as port:
            udp = await ask_udp(port, query("web"))
            (tcp,) = await ask_tcp(port, query("web"))
        assert udp.header.tc == 1 and udp.rr == []
        assert tcp.header.tc == 0 and addresses(tcp) == set(many)
    run(body)


def test_close_detaches_every_container() -> None:
    async def body() -> None:
        server = dns.DnsServer(Calls())
        for cid in ("c1", "c2"):
            await server.serve(cid, *dns.bind_pair("127.0.0.1", 0), ())
        await server.close()
        assert server.attached() == []
    run(body)


def test_upstream_addresses() -> None:
    assert dns.upstream_address("1.2.3.4") == ("1.2.3.4", 53)
    assert dns.upstream_address("::1") == ("::1", 53)
    assert dns.upstream_address("127.0.0.1:5353") == ("127.0.0.1", 5353)
    assert dns.upstream_address("[::1]:5353") == ("::1", 5353)
    with pytest.raises(ValueError):
        dns.upstream_address("resolver.example")


def test_reply_is_a_reply_to_the_question() -> None:
    async def body() -> None:
        server = dns.DnsServer(Calls())
        async with served(server, "c1") as port:
            q = query("api")
            reply = await ask_udp(port, q)
        assert reply.header.qr == 1
        assert reply.header.id == q.header.id
        assert reply.q.qtype == QTYPE.A
        assert isinstance(reply, DNSRecord)
    run(body)
