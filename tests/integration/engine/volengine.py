"""The real ContainerService with the network and volume preparers and the real
VolumeService, put together as ``daemon.serve`` does, over the native runtime with
busybox, for the engine's volume tests; and ``volimg``, busybox with a ``VOLUME``.

Host-global names are netengine.py's (this run's own bridge and chains); its
``engine_root`` scrubs the data root afterwards.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from tests.compat.daemon import remove_cgroups
from tests.integration.engine.netengine import BRIDGE, CHAINS, images_of

from berth.engine.builder.commit import Committer
from berth.engine.containers.service import ContainerService, ServiceOptions
from berth.engine.containers.store import ContainerStore
from berth.engine.events import EventBus
from berth.engine.images.service import ImageService
from berth.engine.networks.preparer import NetworkPreparer
from berth.engine.networks.service import NetworkOptions, NetworkService
from berth.engine.volumes.preparer import VolumePreparer
from berth.engine.volumes.service import VolumeService
from berth.errors import BerthError
from berth.oci import reference
from berth.runtime.shim.client import ShimManager
from berth.store.metadata.containers import ContainerRecords
from berth.store.metadata.db import Database
from berth.store.metadata.networks import NetworkRecords
from berth.store.metadata.volumes import VolumeRecords

IMAGE = "volimg:latest"


@dataclass
class Engine:
    containers: ContainerService
    volumes: VolumeService
    images: ImageService
    events: EventBus


async def image_with_volume(root: Path) -> None:
    """volimg: busybox plus /seeded/hello (owned 1000:1000, dir mode 0750),
    ``VOLUME /seeded``, and two links that point out of the root if followed on the host:
    /escape → <root>/hostside (absolute) and /up → ../../../../../../.. ."""
    db = Database(root / "data" / "metadata.db")
    try:
        images = images_of(root, db)
        committer = Committer(images)
        base = committer.load((await images.get("busybox")).id)
        upper = Path(tempfile.mkdtemp(dir=root))
        (upper / "seeded").mkdir(mode=0o750)
        os.chmod(upper / "seeded", 0o750)
        (upper / "seeded" / "hello").write_text("from the image\n")
        os.chown(upper / "seeded", 1000, 1000)
        os.chown(upper / "seeded" / "hello", 1000, 1000)
        (root / "hostside").mkdir(exist_ok=True)
        os.symlink(root / "hostside", upper / "escape")
        os.symlink("../" * 7, upper / "up")
        layer = committer.layer_from_upper(upper, base)
        config = dict(base.config["config"])
        config["Volumes"] = {"/seeded": {}}
        image = committer.commit(base, config, "VOLUME /seeded", layer)  # type: ignore[arg-type]
        images.set_tag(reference.parse(IMAGE), image.id)
    finally:
        db.close()


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
    volumes = VolumeService(data_root, VolumeRecords(db), events)
    cgroup_parent = f"berth-vol-{secrets.token_hex(3)}"
    containers = ContainerService(
        ServiceOptions(data_root=data_root, exec_root=exec_root,
                       cgroup_parent=cgroup_parent),
        ContainerStore(ContainerRecords(db)), images, shims, events,
        [NetworkPreparer(networks, images), VolumePreparer(volumes, images)])
    networks.set_containers(containers)
    volumes.set_containers(containers)
    await networks.start()
    await containers.restore()
    e = Engine(containers, volumes, images, events)
    try:
        yield e
    finally:
        for c in containers.list():
            with contextlib.suppress(BerthError):
                await containers.remove(c.id, force=True, volumes=True)
        for v in volumes.list():
            with contextlib.suppress(BerthError):
                await volumes.remove(v.name)
        await containers.close()
        await networks.close()
        await shims.close()
        db.close()
        remove_cgroups(cgroup_parent)  # the named hierarchies keep an empty parent
