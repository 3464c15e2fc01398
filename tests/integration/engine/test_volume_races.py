"""Races between a container's create or removal and the volume commands (issue 12), on
the real services: a volume a create has checked cannot be removed or pruned before the
container's record names it, and ``--rm``'s wait is answered only once the container's
anonymous volumes are gone (docker removes them before ``SetRemoved``)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.integration.engine.netengine import engine_root
from tests.integration.engine.volengine import Engine, engine

from berth.engine.containers.model import ContainerSpec, MountSpec
from berth.engine.volumes.model import VolumeCreate
from berth.errors import Conflict

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root, overlayfs and mounts"),
]


@pytest.fixture(scope="module")
def root() -> Iterator[Path]:
    with engine_root() as root:
        yield root


def run(coro_fn: object) -> None:
    asyncio.run(asyncio.wait_for(coro_fn(), 120))  # type: ignore[operator]


async def _anonymous(e: Engine) -> set[str]:
    return {v.name for v in e.volumes.list() if v.anonymous}


def test_a_volume_checked_by_a_create_in_flight_is_in_use(root: Path) -> None:
    """The create is held between its check and its record (the image service's lock,
    which ``prepare_rootfs`` takes, is busy); a remove or prune meanwhile is refused."""
    async def main() -> None:
        async with engine(root) as e:
            await e.volumes.create(VolumeCreate(name="shared"))
            lock = e.images._lock  # what a pull or commit holds for minutes
            await lock.acquire()
            try:
                create = asyncio.create_task(e.containers.create(None, ContainerSpec(
                    image="busybox", cmd=("true",), network_mode="none", mounts=(
                        MountSpec(type="volume", source="shared", target="/s"),
                        MountSpec(type="volume", target="/anon")))))
                for _ in range(200):  # its check has made the anonymous volume
                    if await _anonymous(e):
                        break
                    await asyncio.sleep(0.01)
                anon = await _anonymous(e)
                assert len(anon) == 1 and not create.done()
                with pytest.raises(Conflict, match="remove shared: volume is in use"):
                    await e.volumes.remove("shared")
                with pytest.raises(Conflict, match="volume is in use"):
                    await e.volumes.remove(next(iter(anon)))
                report = await e.volumes.prune([], all_volumes=True)
                assert report.deleted == ()
            finally:
                lock.release()
            c = await create
            assert {v.name for v in e.volumes.list()} == {"shared", *anon}
            waiter = e.containers.waiter(c.id, "next-exit")
            await e.containers.start(c.id)
            assert await asyncio.wait_for(waiter, 60) == 0
            # once the container is gone, nothing holds them any more
            await e.containers.remove(c.id, volumes=True)
            assert await _anonymous(e) == set()
            await e.volumes.remove("shared")
    run(main)


def test_a_create_that_fails_after_the_check_lets_go_of_its_volumes(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            await e.volumes.create(VolumeCreate(name="kept"))
            await e.containers.create("taken", ContainerSpec(image="busybox",
                                                             network_mode="none"))
            with pytest.raises(Conflict):
                await e.containers.create("taken", ContainerSpec(
                    image="busybox", network_mode="none",
                    mounts=(MountSpec(type="volume", source="kept", target="/k"),)))
            await e.volumes.remove("kept")  # no claim outlives the failed create
    run(main)


def test_rm_wait_is_answered_after_the_anonymous_volumes_are_gone(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            for _ in range(5):
                c = await e.containers.create(None, ContainerSpec(
                    image="busybox", cmd=("sh", "-c", "echo x > /anon/f"),
                    network_mode="none", auto_remove=True,
                    mounts=(MountSpec(type="volume", target="/anon"),)))
                assert len(await _anonymous(e)) == 1
                removed = e.containers.waiter(c.id, "removed")
                await e.containers.start(c.id)
                assert await asyncio.wait_for(removed, 60) == 0
                assert await _anonymous(e) == set(), "docker run --rm returned first"
                assert not list((root / "data" / "volumes").iterdir())
    run(main)
