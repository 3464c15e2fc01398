"""The real ContainerService and NetworkService over the native runtime with busybox: a
container gets eth0, an address and a default route; two containers reach each other; a
published port answers on 127.0.0.1; a release leaves no veth, netns or rule; a new
service over the same database keeps addresses unique.

The engine is netengine.py's: host-global names of this run only; the data root is
conftest.py's, scrubbed afterwards.
"""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import time
from pathlib import Path

import pytest
from tests.integration.engine.netengine import TAG, Engine, cleanup, engine

from berth.engine.containers.model import ContainerSpec, PortBinding
from berth.engine.events import EventFilter
from berth.engine.networks.model import NetworkCreate

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root, netns, veths, iptables"),
]


def _in(pid: int, *argv: str) -> str:
    return subprocess.run(["nsenter", "-t", str(pid), "-n", *argv], check=True,
                          capture_output=True, text=True).stdout


async def _run(e: Engine, *cmd: str, **spec: object) -> str:
    c = await e.containers.create(None, ContainerSpec(image="busybox", cmd=cmd,
                                                      **spec))  # type: ignore[arg-type]
    await e.containers.start(c.id)
    return c.id


def test_a_container_gets_eth0_a_route_and_reaches_another(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            try:
                a = await _run(e, "sleep", "300")
                b = await _run(e, "sleep", "300")
                ca, cb = e.containers.get(a), e.containers.get(b)
                ea = e.networks.container_network(ca).endpoints[0]
                eb = e.networks.container_network(cb).endpoints[0]
                assert ea.ip_address and eb.ip_address and ea.ip_address != eb.ip_address
                assert ea.network_name == "bridge"
                assert f"inet {ea.ip_address}/" in _in(ca.state.pid, "ip", "-4", "addr",
                                                       "show", "eth0")
                assert f"default via {ea.gateway}" in _in(ca.state.pid, "ip", "route")
                _in(ca.state.pid, "busybox", "ping", "-c", "1", "-W", "2", eb.ip_address)
                hosts = (root / "data" / "containers" / a / "hosts").read_text()
                assert f"{ea.ip_address}\t{a[:12]}" in hosts
            finally:
                await cleanup(e)

    asyncio.run(asyncio.wait_for(main(), 120))


def test_user_networks_resolve_names_and_release_leaves_nothing(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            try:
                n = await e.networks.create(NetworkCreate(name=f"t{TAG}"))
                a = await _run(e, "sleep", "300", network_mode=n.name)
                await e.containers.create("peer", ContainerSpec(
                    image="busybox", cmd=("sleep", "300"), network_mode=n.name))
                await e.containers.start("peer")
                ca = e.containers.get(a)
                assert e.networks.live.resolve(a, "peer", {n.id})
                netns = e.networks.host.netns_path(a)
                veths = [x.host_veth for x in e.networks.live.of(a)]
                assert netns.exists() and veths
                await e.containers.remove(a, force=True)
                assert not netns.exists()
                assert not any(Path(f"/sys/class/net/{v}").exists() for v in veths)
                assert ca.id not in {r.container_id for r in e.networks.host.records
                                     .endpoints()}
            finally:
                await cleanup(e)

    asyncio.run(asyncio.wait_for(main(), 120))


def test_a_published_port_answers_on_loopback_and_its_rule_goes(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            try:
                with socket.socket() as s:
                    s.bind(("127.0.0.1", 0))
                    port = s.getsockname()[1]
                cid = await _run(e, "nc", "-ll", "-p", "80", "-e", "echo", "hello",
                                 port_bindings=(PortBinding(80, host_port=port),))
                deadline = time.monotonic() + 10
                while True:
                    try:
                        with socket.create_connection(("127.0.0.1", port), 2) as conn:
                            assert conn.recv(16).startswith(b"hello")
                            break
                    except OSError:
                        if time.monotonic() > deadline:
                            raise
                        await asyncio.sleep(0.2)
                firewall = e.networks.host.firewall
                assert firewall is not None and cid in firewall.keys()
                await e.containers.remove(cid, force=True)
                assert cid not in firewall.keys()
            finally:
                await cleanup(e)

    asyncio.run(asyncio.wait_for(main(), 120))


def test_a_new_service_over_the_same_database_keeps_addresses_unique(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as first:
            a = await _run(first, "sleep", "300")
        try:
            async with engine(root) as second:
                try:
                    b = await _run(second, "sleep", "300")
                    addr = {cid: second.networks.container_network(
                        second.containers.get(cid)).endpoints[0].ip_address
                        for cid in (a, b)}
                    assert addr[a] and addr[b] and addr[a] != addr[b]
                finally:
                    await cleanup(second)
        finally:
            async with engine(root) as third:
                await cleanup(third)

    asyncio.run(asyncio.wait_for(main(), 120))


def test_network_events_as_docker_sends_them(root: Path) -> None:
    """create, connect (a start), disconnect (its exit), destroy: type network, the
    network's id, its name and type, the container of a (dis)connect."""
    async def main() -> None:
        async with engine(root) as e:
            try:
                since = time.time_ns()
                n = await e.networks.create(NetworkCreate(name=f"ev{TAG}"))
                cid = await _run(e, "true", network_mode=n.name)
                await e.containers.waiter(cid)
                await e.containers.remove(cid)
                await e.networks.remove(n.id)
                seen = []
                async for ev in e.events.subscribe(since, time.time_ns(),
                                                   EventFilter(types=frozenset({"network"}))):
                    seen.append((ev.action, ev.actor_id, dict(ev.attributes)))
                base = {"name": n.name, "type": "bridge"}
                assert seen == [("create", n.id, base),
                                ("connect", n.id, {**base, "container": cid}),
                                ("disconnect", n.id, {**base, "container": cid}),
                                ("destroy", n.id, base)]
            finally:
                await cleanup(e)

    asyncio.run(asyncio.wait_for(main(), 120))
