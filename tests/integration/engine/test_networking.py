"""The real ContainerService and NetworkService over the native runtime with busybox: a
container gets eth0, an address and a default route; two containers reach each other; a
published port answers on 127.0.0.1; a release leaves no veth, netns or rule; a new
service over the same database keeps addresses unique.

Every host-global name is this run's own (bridge bt<hex>, chains BT<hex>, a 10.231/16
pool), and everything is removed in ``finally``, whatever failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.integration.conftest import unmount_all_under

from berth.engine.containers.model import ContainerSpec, PortBinding
from berth.engine.containers.service import ContainerService, ServiceOptions
from berth.engine.containers.store import ContainerStore
from berth.engine.events import EventBus
from berth.engine.images.service import ImageService
from berth.engine.networks import startup
from berth.engine.networks.model import NetworkCreate
from berth.engine.networks.preparer import NetworkPreparer
from berth.engine.networks.service import NetworkOptions, NetworkService
from berth.errors import BerthError
from berth.net import links
from berth.runtime.shim.client import ShimManager
from berth.store.metadata.containers import ContainerRecords
from berth.store.metadata.db import Database
from berth.store.metadata.networks import NetworkRecords
from berth.store.snapshots.overlay import OverlaySnapshotter

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root, netns, veths, iptables"),
]

TAG = secrets.token_hex(3)
BRIDGE = f"bt{TAG}"
CHAINS = f"BT{TAG}"


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="bn", dir="/tmp"))

    async def bootstrap() -> None:
        db = Database(root / "data" / "metadata.db")
        try:
            await _images(root, db).bootstrap("busybox")
        finally:
            db.close()

    try:
        (root / "data").mkdir()
        asyncio.run(bootstrap())
        yield root
    finally:
        _scrub(root)


def _images(root: Path, db: Database) -> ImageService:
    return ImageService(root / "data", db,
                        OverlaySnapshotter(root / "data" / "snapshots" / "overlay"))


def _scrub(root: Path) -> None:
    """Whatever a failed case left of this run on the host."""
    for veth in links.host_veths("vb"):
        if Path(f"/sys/class/net/{veth}/master").exists() and os.path.basename(
                os.readlink(f"/sys/class/net/{veth}/master")).startswith(("bt", "br-")):
            with contextlib.suppress(OSError, BerthError):
                links.remove_veth(veth)
    for name in os.listdir("/sys/class/net"):
        if name == BRIDGE:
            with contextlib.suppress(OSError, BerthError):
                links.remove_bridge(name)
    from berth.net.firewall import Firewall
    with contextlib.suppress(OSError, BerthError):
        Firewall(CHAINS).teardown()
    unmount_all_under(str(root))
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class Engine:
    containers: ContainerService
    networks: NetworkService


@contextlib.asynccontextmanager
async def engine(root: Path) -> AsyncIterator[Engine]:
    data_root, exec_root = root / "data", root / "exec"
    db = Database(data_root / "metadata.db")
    images = _images(root, db)
    shims = ShimManager(exec_root)
    await shims.start()
    networks = NetworkService(NetworkOptions(
        exec_root=exec_root, data_root=data_root, bridge=BRIDGE,
        default_address_pools=("10.231.0.0/16:24",), iptables_chain_prefix=CHAINS),
        NetworkRecords(db))
    containers = ContainerService(
        ServiceOptions(data_root=data_root, exec_root=exec_root,
                       cgroup_parent=f"berth-net-{TAG}"),
        ContainerStore(ContainerRecords(db)), images, shims, EventBus(),
        [NetworkPreparer(networks, images)])
    networks.set_containers(containers)
    await networks.start()
    await containers.restore()
    await startup.reconcile(networks)
    try:
        yield Engine(containers, networks)
    finally:
        await containers.close()
        await networks.close()
        await shims.close()
        db.close()


async def _cleanup(e: Engine) -> None:
    for c in e.containers.list():
        with contextlib.suppress(BerthError):
            await e.containers.remove(c.id, force=True)
    for n in e.networks.list():
        if not n.predefined:
            with contextlib.suppress(BerthError):
                await e.networks.remove(n.id)


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
                await _cleanup(e)

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
                await _cleanup(e)

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
                await _cleanup(e)

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
                    await _cleanup(second)
        finally:
            async with engine(root) as third:
                await _cleanup(third)

    asyncio.run(asyncio.wait_for(main(), 120))
