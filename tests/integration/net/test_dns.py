"""The embedded DNS server in a real network namespace: busybox nslookup inside asks
127.0.0.11, names come from the resolver, the rest reaches a fake upstream on the host's
loopback. Only loopback and the test's own netns carry traffic."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.unit.net.dnsfakes import UPSTREAM_ANSWER, fake_upstream

from berth.net import dns, netns

BUSYBOX = "/usr/bin/busybox"

pytestmark = pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(BUSYBOX),
                                reason="needs root and a static busybox")


@pytest.fixture
def dns_netns(tmp_path: Path) -> Iterator[Path]:
    path = tmp_path / f"btdns{secrets.token_hex(4)}"
    netns.create(path)
    try:
        yield path
    finally:
        netns.remove(path)


async def nslookup(ns: Path, name: str) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        "nsenter", f"--net={ns}", BUSYBOX, "nslookup", name, dns.ADDRESS,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode is not None
    return proc.returncode, out.decode()


def can_bind_dns_port(ns: Path) -> bool:
    with netns.entered(ns):
        try:
            dns.bind_pair(dns.ADDRESS, dns.PORT)[0].close()
        except OSError:
            return False
    return True


def test_names_answered_in_the_netns_and_the_rest_forwarded(dns_netns: Path) -> None:
    seen: list[tuple[str, str]] = []

    def resolve(cid: str, name: str) -> list[str]:
        seen.append((cid, name))
        return ["172.30.0.7"] if name == "api" else []

    async def body() -> None:
        async with fake_upstream() as up:
            server = dns.DnsServer(resolve)
            await server.attach("cid1", dns_netns, [up.address])
            try:
                code, out = await nslookup(dns_netns, "api")
                assert code == 0, out
                assert "172.30.0.7" in out
                code, out = await nslookup(dns_netns, "elsewhere.test")
                assert code == 0, out
                assert UPSTREAM_ANSWER in out
                assert "elsewhere.test." in up.udp_names
                with pytest.raises(ConnectionRefusedError):  # nothing on the host's side
                    await asyncio.open_connection(dns.ADDRESS, dns.PORT)
                assert not can_bind_dns_port(dns_netns)
            finally:
                await server.detach("cid1")
            await server.detach("cid1")
            assert can_bind_dns_port(dns_netns)  # the sockets are gone
            code, _ = await nslookup(dns_netns, "api")
            assert code != 0
        assert ("cid1", "api") in seen

    asyncio.run(body())


def test_close_releases_every_netns(tmp_path: Path) -> None:
    paths = [tmp_path / f"btdns{secrets.token_hex(4)}" for _ in range(2)]

    async def body() -> None:
        server = dns.DnsServer(lambda cid, name: [])
        for i, p in enumerate(paths):
            await server.attach(f"c{i}", p, [])
        await server.close()

    for p in paths:
        netns.create(p)
    try:
        asyncio.run(body())
        assert all(can_bind_dns_port(p) for p in paths)
    finally:
        for p in paths:
            netns.remove(p)


def test_attach_to_a_missing_netns_fails_and_leaves_nothing(tmp_path: Path) -> None:
    async def body() -> None:
        server = dns.DnsServer(lambda cid, name: [])
        with pytest.raises(netns.NetnsError):
            await server.attach("c", tmp_path / "absent", [])
        assert server.attached() == []

    asyncio.run(body())
