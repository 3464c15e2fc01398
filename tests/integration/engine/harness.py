"""The engine's services put together as ``daemon.serve`` does, over the native runtime
with busybox: the one assembly every engine integration test uses (netengine.py and
volengine.py are this with networking or volumes on; the container, fs and backend-suite
tests use it as it is).

One data root per module (``engine_root``: busybox bootstrapped once, the ``root``
fixture of conftest.py), a fresh database handle, shim zygote and services per
``engine``; what a case leaves is removed when its engine closes (``keep``: left for the
next engine over the same root), and ``scrub`` removes whatever this run left on the host.

Every host-global name is this run's own: bridge bt<hex>, veths of its prefix, chains
BT<hex>, a 10.231/16 pool, cgroup parent ``berth-it-<root's name>``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import pytest
from tests.compat.daemon import remove_cgroups
from tests.integration.conftest import unmount_all_under

from berth.engine.containers.archive import ContainerArchive, bind_mounts, mount_points_source
from berth.engine.containers.changes import ContainerChanges
from berth.engine.containers.commit import ContainerCommitter
from berth.engine.containers.preparer import ContainerPreparer
from berth.engine.containers.service import ContainerService, ServiceOptions
from berth.engine.containers.store import ContainerStore
from berth.engine.events import EventBus
from berth.engine.images.service import ImageService
from berth.engine.networks import sandbox, startup
from berth.engine.networks.preparer import NetworkPreparer
from berth.engine.networks.service import NetworkOptions, NetworkService
from berth.engine.volumes.preparer import VolumePreparer
from berth.engine.volumes.service import VolumeService
from berth.errors import BerthError
from berth.net import links
from berth.net.firewall import Firewall
from berth.runtime.shim.client import ShimManager
from berth.store.metadata.containers import ContainerRecords
from berth.store.metadata.db import Database
from berth.store.metadata.networks import NetworkRecords
from berth.store.metadata.volumes import VolumeRecords
from berth.store.snapshots.overlay import OverlaySnapshotter

TAG = secrets.token_hex(3)
BRIDGE = f"bt{TAG}"
CHAINS = f"BT{TAG}"
_USER_BRIDGES: set[str] = set()  # of the networks the engines made, for scrub


def images_of(root: Path, db: Database) -> ImageService:
    return ImageService(root / "data", db,
                        OverlaySnapshotter(root / "data" / "snapshots" / "overlay"))


def cgroup_parent(root: Path) -> str:
    """The engines' cgroup parent over ``root`` (one, as one daemon's)."""
    return f"berth-it-{root.name}"


@contextlib.contextmanager
def engine_root(prefix: str = "bn") -> Iterator[Path]:
    """A data root with busybox bootstrapped, scrubbed afterwards (the shims' sockets
    need a short path: /tmp/<prefix>XXXXXXXX)."""
    root = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))

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
    remove_cgroups(cgroup_parent(root))  # the named hierarchies keep an empty parent
    unmount_all_under(str(root))
    shutil.rmtree(root, ignore_errors=True)


@dataclass
class Engine:
    """The services of one ``engine``; ``networks`` and ``volumes`` only if asked for."""

    containers: ContainerService
    images: ImageService
    events: EventBus
    network_service: NetworkService | None = None
    volume_service: VolumeService | None = None

    @property
    def networks(self) -> NetworkService:
        assert self.network_service is not None, "engine(networking=True) has them"
        return self.network_service

    @property
    def volumes(self) -> VolumeService:
        assert self.volume_service is not None, "engine(volumes=True) has them"
        return self.volume_service

    # the container filesystem's backends (docker cp, diff, commit), as daemon.serve's
    @cached_property
    def archive(self) -> ContainerArchive:
        mounts = (mount_points_source(self.volume_service.mount_points)
                  if self.volume_service is not None else bind_mounts)
        return ContainerArchive(self.containers, self.images, mounts)

    @cached_property
    def changes(self) -> ContainerChanges:
        return ContainerChanges(self.containers, self.images)

    @cached_property
    def commits(self) -> ContainerCommitter:
        return ContainerCommitter(self.containers, self.images)


@contextlib.asynccontextmanager
async def engine(root: Path, *, networking: bool = False, volumes: bool = False,
                 preparers: Sequence[ContainerPreparer] = (),
                 keep: bool = False) -> AsyncIterator[Engine]:
    """The services over ``root``: the container service, with the network service and
    its preparer (``networking``; ``volumes`` implies it, as in the daemon), the volume
    service and its preparer (``volumes``), then ``preparers``. When it closes, every
    container, volume and user network is removed unless ``keep``."""
    data_root, exec_root = root / "data", root / "exec"
    db = Database(data_root / "metadata.db")
    images = images_of(root, db)
    shims = ShimManager(exec_root)
    await shims.start()
    events = EventBus()
    networks = vols = None
    hooks: list[ContainerPreparer] = []
    if networking or volumes:
        networks = NetworkService(NetworkOptions(
            exec_root=exec_root, data_root=data_root, bridge=BRIDGE,
            default_address_pools=("10.231.0.0/16:24",), iptables_chain_prefix=CHAINS),
            NetworkRecords(db), events)
        hooks.append(NetworkPreparer(networks, images))
    if volumes:
        vols = VolumeService(data_root, VolumeRecords(db), events)
        hooks.append(VolumePreparer(vols, images))
    containers = ContainerService(
        ServiceOptions(data_root=data_root, exec_root=exec_root,
                       cgroup_parent=cgroup_parent(root)),
        ContainerStore(ContainerRecords(db)), images, shims, events, [*hooks, *preparers])
    if networks is not None:
        networks.set_containers(containers)
    if vols is not None:
        vols.set_containers(containers)
    e = Engine(containers, images, events, networks, vols)
    try:
        if networks is not None:
            await networks.start()
        await containers.restore()
        if networks is not None:
            await startup.reconcile(networks)
        yield e
    finally:
        try:
            if not keep:
                await cleanup(e)
        finally:
            if networks is not None:
                _USER_BRIDGES.update(n.bridge for n in networks.list() if n.bridge)
            await containers.close()
            if networks is not None:
                await networks.close()
            await shims.close()
            db.close()


async def cleanup(e: Engine) -> None:
    """Remove every container (with its anonymous volumes), volume and user network of
    ``e``."""
    for c in e.containers.list():
        with contextlib.suppress(BerthError):
            await e.containers.remove(c.id, force=True, volumes=True)
    if e.volume_service is not None:
        for v in e.volume_service.list():
            with contextlib.suppress(BerthError):
                await e.volume_service.remove(v.name)
    if e.network_service is not None:
        for n in e.network_service.list():
            if not n.predefined:
                with contextlib.suppress(BerthError):
                    await e.network_service.remove(n.id)


class OnEngineRoot:
    """A backend suite's runner over the module's data root (conftest.py's ``root``)."""

    root: Path

    @pytest.fixture(autouse=True)
    def _root(self, root: Path) -> None:
        self.root = root
