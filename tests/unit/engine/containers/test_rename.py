"""``ContainerService.rename`` takes the container's lock like start, stop and remove, so
a rename racing them never leaves the in-memory index and the stored record disagreeing,
nor loses the new name or the other operation's outcome.

The service runs for real over a SQLite store; the image service and the shim manager
are stand-ins that do what a start and a remove ask of them (a rootfs of one bind, a shim
creation that fails as a missing executable does), with a gate to hold an operation in
flight. Nothing sleeps: each gate is an event the test opens.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from tests.unit.engine.containers.stubs import StubImages

from berth.engine.containers.model import Container, ContainerSpec, Status
from berth.engine.containers.service import ContainerService, ServiceOptions
from berth.engine.containers.store import ContainerStore
from berth.engine.events import EventBus
from berth.errors import RuntimeFailure
from berth.runtime.shim import ShimOptions
from berth.store.metadata.containers import ContainerRecords
from berth.store.metadata.db import Database

NOT_FOUND = 'exec: "nope": executable file not found in $PATH'




class _Shims:
    """A shim creation that waits for ``release`` (a start in flight, holding the
    container's lock), then fails as runc does for a missing executable."""

    def __init__(self) -> None:
        self.entered = asyncio.Event()
        self.release = asyncio.Event()

    async def create(self, opts: ShimOptions) -> None:
        self.entered.set()
        await self.release.wait()
        raise RuntimeFailure(NOT_FOUND)


class _Records(ContainerRecords):
    """Records whose next update, once ``hold_update`` is set, is written and then held
    until ``release`` (a rename's write in flight)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db)
        self.hold_update = False
        self.entered = threading.Event()
        self.release = threading.Event()

    def update(self, container_id: str, name: str, document: str) -> None:
        super().update(container_id, name, document)
        if self.hold_update:
            self.hold_update = False
            self.entered.set()
            self.release.wait()


def _service(tmp_path: Path) -> tuple[ContainerService, _Records, _Shims]:
    (tmp_path / "rootfs").mkdir()
    records = _Records(Database(tmp_path / "metadata.db"))
    shims = _Shims()
    service = ContainerService(
        ServiceOptions(data_root=tmp_path / "data", exec_root=tmp_path / "exec"),
        ContainerStore(records), StubImages(tmp_path / "rootfs"),  # type: ignore[arg-type]
        shims, EventBus())  # type: ignore[arg-type]
    return service, records, shims


def _stored(records: ContainerRecords) -> dict[str, Container]:
    return {c.id: c for c in map(Container.from_json, records.all())}


def _indexed(service: ContainerService) -> dict[str, Container]:
    return {c.id: c for c in service.store.all()}


def test_rename_during_a_start_keeps_both_the_new_name_and_the_starts_outcome(
        tmp_path: Path) -> None:
    async def scenario() -> None:
        service, records, shims = _service(tmp_path)
        c = await service.create("old", ContainerSpec(image="img", cmd=("nope",)))
        start = asyncio.create_task(service.start(c.id))
        await shims.entered.wait()  # the start holds the lock, its record in hand
        rename = asyncio.create_task(service.rename("old", "new"))
        shims.release.set()  # the start fails and records why
        with pytest.raises(RuntimeFailure):
            await start
        await rename
        stored, indexed = _stored(records)[c.id], _indexed(service)[c.id]
        assert stored == indexed
        assert (stored.name, stored.state.exit_code, stored.state.error) == (
            "new", 127, NOT_FOUND)
        assert service.get("new").id == c.id

    asyncio.run(scenario())


def test_remove_during_a_rename_waits_for_it_and_leaves_nothing(tmp_path: Path) -> None:
    async def scenario() -> None:
        service, records, _ = _service(tmp_path)
        c = await service.create("old", ContainerSpec(image="img", cmd=("nope",)))
        records.hold_update = True
        rename = asyncio.create_task(service.rename(c.id, "new"))
        await asyncio.to_thread(records.entered.wait)  # the new name is written, not seen
        remove = asyncio.create_task(service.remove(c.id))
        try:
            await asyncio.sleep(0)  # the remove runs up to where it must wait: the lock
            assert service.get(c.id).state.status is not Status.REMOVING
        finally:
            records.release.set()
        await rename
        await remove
        assert _stored(records) == {} and _indexed(service) == {}

    asyncio.run(scenario())
