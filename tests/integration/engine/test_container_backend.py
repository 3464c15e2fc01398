"""The real ContainerService and ExecService pass the backends' conformance suite (the
one the API's fakes pass: tests/unit/api/server/backend_suite.py), with busybox, shims and
the kernel; and the prepare hooks run where the life cycle promises.

The services are put together as ``daemon.serve`` does, on one data root for the session
(busybox is bootstrapped once) and a fresh database handle, shim zygote and service per
case; every container a case leaves is force-removed after it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from tests.integration.conftest import unmount_all_under
from tests.unit.api.server.backend_suite import Backends, ContainerBackendSuite

from berth.engine.containers.execs import ExecService
from berth.engine.containers.model import Container, ContainerSpec
from berth.engine.containers.service import ContainerService, ServiceOptions
from berth.engine.containers.store import ContainerStore
from berth.engine.events import EventBus
from berth.engine.images.service import ImageService
from berth.errors import BerthError
from berth.oci import spec as oci
from berth.runtime.shim.client import ShimManager
from berth.runtime.spec import SpecOpt
from berth.store.metadata.containers import ContainerRecords
from berth.store.metadata.db import Database
from berth.store.snapshots.overlay import OverlaySnapshotter

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root, overlayfs and cgroups"),
]


def _images(data_root: Path, db: Database) -> ImageService:
    return ImageService(data_root, db, OverlaySnapshotter(data_root / "snapshots" / "overlay"))


@pytest.fixture(scope="session")
def engine_root() -> Iterator[Path]:
    """A data root holding busybox (the shims' sockets need a short path: /tmp/bXXXX)."""
    root = Path(tempfile.mkdtemp(prefix="bk", dir="/tmp"))

    async def bootstrap() -> None:
        db = Database(root / "data" / "metadata.db")
        try:
            await _images(root / "data", db).bootstrap("busybox")
        finally:
            db.close()

    try:
        (root / "data").mkdir()
        asyncio.run(bootstrap())
        yield root
    finally:
        unmount_all_under(str(root))
        shutil.rmtree(root, ignore_errors=True)


class TestContainerService(ContainerBackendSuite):
    @pytest.fixture(autouse=True)
    def _root(self, engine_root: Path) -> None:
        self.root = engine_root

    @contextlib.asynccontextmanager
    async def open_backends(self) -> AsyncIterator[Backends]:
        data_root, exec_root = self.root / "data", self.root / "exec"
        db = Database(data_root / "metadata.db")
        images = _images(data_root, db)
        shims = ShimManager(exec_root)
        await shims.start()
        containers = ContainerService(
            ServiceOptions(data_root=data_root, exec_root=exec_root,
                           cgroup_parent=f"berth-suite-{secrets.token_hex(4)}"),
            ContainerStore(ContainerRecords(db)), images, shims, EventBus())
        await containers.restore()
        execs = ExecService(containers, images)
        try:
            yield Backends(containers, execs, "busybox")
        finally:
            for c in containers.list():
                with contextlib.suppress(BerthError):
                    await containers.remove(c.id, force=True)
            await execs.close()
            await containers.close()
            await shims.close()
            db.close()


class _RecordingPreparer:
    """Records each call; its spec option puts an environment variable in the process."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def check(self, spec: ContainerSpec) -> ContainerSpec:
        self.calls.append(("check", spec.image))
        return spec

    async def prepare(self, container: Container) -> list[SpecOpt]:
        self.calls.append(("prepare", container.id))

        def apply(spec: oci.Spec) -> None:
            spec["process"]["env"].append("PREPARED=yes")
        return [apply]

    async def release(self, container: Container) -> None:
        self.calls.append(("release", container.id))

    async def removed(self, container: Container, volumes: bool) -> None:
        self.calls.append(("removed", container.id))


def test_prepare_hooks_run_in_the_real_lifecycle(engine_root: Path) -> None:
    """daemon.py passes ContainerService its prepare hooks: each create checks, each start
    prepares (its options reach the process), each exit and the removal release."""
    async def main() -> None:
        data_root, exec_root = engine_root / "data", engine_root / "exec"
        db = Database(data_root / "metadata.db")
        shims = ShimManager(exec_root)
        await shims.start()
        hook = _RecordingPreparer()
        containers = ContainerService(
            ServiceOptions(data_root=data_root, exec_root=exec_root,
                           cgroup_parent=f"berth-suite-{secrets.token_hex(4)}"),
            ContainerStore(ContainerRecords(db)), _images(data_root, db), shims, EventBus(),
            [hook])
        try:
            c = await containers.create(None, ContainerSpec(image="busybox",
                                                            cmd=("sleep", "300")))
            assert hook.calls == [("check", "busybox")]
            await containers.start(c.id)
            assert hook.calls[1:] == [("prepare", c.id)]
            pid = containers.get(c.id).state.pid
            environ = Path(f"/proc/{pid}/environ")
            for _ in range(50):  # empty while the init is still inside its execve
                if environ.read_bytes():
                    break
                await asyncio.sleep(0.05)
            assert b"PREPARED=yes" in environ.read_bytes()
            await containers.restart(c.id, timeout=0)
            assert hook.calls[1:] == [("prepare", c.id), ("release", c.id), ("prepare", c.id)]
            await containers.remove(c.id, force=True)
            # exit, removal, then the record gone
            assert hook.calls[4:] == [("release", c.id), ("release", c.id), ("removed", c.id)]
        finally:
            for left in containers.list():
                with contextlib.suppress(BerthError):
                    await containers.remove(left.id, force=True)
            await containers.close()
            await shims.close()
            db.close()

    asyncio.run(asyncio.wait_for(main(), 60))
