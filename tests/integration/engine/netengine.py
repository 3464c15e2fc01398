"""The real NetworkService and ContainerService put together as ``daemon.serve`` does, over
the native runtime with busybox, for the engine's networking tests.

Every host-global name is this run's own (bridge bt<hex>, veths of its prefix, chains
BT<hex>, a 10.231/16 pool); ``scrub`` removes whatever a failed case left.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.integration.conftest import unmount_all_under

from berth.engine.containers.service import ContainerService, ServiceOptions
from berth.engine.containers.store import ContainerStore
from berth.engine.events import EventBus
from berth.engine.images.service import ImageService
from berth.engine.networks import sandbox, startup
from berth.engine.networks.preparer import NetworkPreparer
from berth.engine.networks.service import NetworkOptions, NetworkService
from berth.errors import BerthError
from berth.net import links
from berth.net.firewall import Firewall
from berth.runtime.shim.client import ShimManager
from berth.store.metadata.containers import ContainerRecords
from berth.store.metadata.db import Database
from berth.store.metadata.networks import NetworkRecords
from berth.store.snapshots.overlay import OverlaySnapshotter

TAG = secrets.token_hex(3)
BRIDGE = f"bt{TAG}"
CHAINS = f"BT{TAG}"
_USER_BRIDGES: set[str] = set()  # of the networks the engines made, for scrub


@contextlib.contextmanager
def engine_root() -> Iterator[Path]:
    """A data root with busybox bootstrapped, scrubbed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="bn", dir="/tmp"))

    async def bootstrap() -> None:
        db = Database(root / "data" / "metadata.db")
        try:
            await images_of(root, db).bootstrap("busybox")
        finally:
            db.close()

    try:
        (root / "data").mkdir()
        asyncio.run(bootstrap())
        yield root
    finally:
        scrub(root)


def images_of(root: Path, db: Database) -> ImageService:
    return ImageService(root / "data", db,
                        OverlaySnapshotter(root / "data" / "snapshots" / "overlay"))


def scrub(root: Path) -> None:
    """Whatever a failed case left of this run on the host."""
    for veth in links.host_veths(sandbox.veth_prefix(BRIDGE)):  # this engine's only
        with contextlib.suppress(OSError, BerthError):
            links.remove_veth(veth)
    for name in os.listdir("/sys/class/net"):
        if name == BRIDGE or name in _USER_BRIDGES:
            with contextlib.suppress(OSError, BerthError):
                links.remove_bridge(name)
    with contextlib.suppress(OSError, BerthError):
        Firewall(CHAINS).teardown()
    unmount_all_under(str(root))
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class Engine:
    containers: ContainerService
    networks: NetworkService
    events: EventBus


@contextlib.asynccontextmanager
async def engine(root: Path) -> AsyncIterator[Engine]:
    data_root, exec_root = root / "data", root / "exec"
    db = Database(data_root / "metadata.db")
    images = images_of(root, db)
    shims = ShimManager(exec_root)
    await shims.start()
    events = EventBus()
    networks = NetworkService(NetworkOptions(
        exec_root=exec_root, data_root=data_root, bridge=BRIDGE,
        default_address_pools=("10.231.0.0/16:24",), iptables_chain_prefix=CHAINS),
        NetworkRecords(db), events)
    containers = ContainerService(
        ServiceOptions(data_root=data_root, exec_root=exec_root,
                       cgroup_parent=f"berth-net-{TAG}"),
        ContainerStore(ContainerRecords(db)), images, shims, events,
        [NetworkPreparer(networks, images)])
    networks.set_containers(containers)
    await networks.start()
    await containers.restore()
    await startup.reconcile(networks)
    try:
        yield Engine(containers, networks, events)
    finally:
        _USER_BRIDGES.update(n.bridge for n in networks.list() if n.bridge)
        await containers.close()
        await networks.close()
        await shims.close()
        db.close()


async def cleanup(e: Engine) -> None:
    """Remove every container and user network of ``e``."""
    for c in e.containers.list():
        with contextlib.suppress(BerthError):
            await e.containers.remove(c.id, force=True)
    for n in e.networks.list():
        if not n.predefined:
            with contextlib.suppress(BerthError):
                await e.networks.remove(n.id)
