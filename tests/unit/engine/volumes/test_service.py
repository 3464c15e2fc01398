"""VolumeService and the local driver over a real metadata database and a temporary data
root (no mounts: volumes without ``-o``), with the containers given as records."""

from __future__ import annotations

import asyncio
import os
import stat
from collections.abc import Callable, Coroutine
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from berth.engine.containers.model import Container, ContainerSpec, MountSpec, State, Status
from berth.engine.events import EventBus
from berth.engine.volumes import local
from berth.engine.volumes.model import ANONYMOUS_LABEL, VolumeCreate
from berth.engine.volumes.service import VolumeService
from berth.errors import Conflict, InvalidArgument, NotFound
from berth.store.metadata.db import Database
from berth.store.metadata.volumes import VolumeRecords


class _Containers:
    def __init__(self) -> None:
        self.items: list[Container] = []

    def get(self, ref: str) -> Container:
        for c in self.items:
            if ref in (c.id, c.name):
                return c
        raise NotFound(f"No such container: {ref}")

    def list(self) -> list[Container]:
        return list(self.items)

    def add(self, cid: str, *volumes: str, running: bool = False) -> Container:
        c = Container(id=cid, name=cid, created="", spec=ContainerSpec(
            image="busybox", mounts=tuple(MountSpec("volume", f"/{v}", v) for v in volumes)),
            image_id="", path="", args=(), cmd=None, entrypoint=None, labels=(), env=(),
            working_dir="", user="", hostname="", runtime="native", log_path="",
            state=State(status=Status.RUNNING if running else Status.EXITED))
        self.items.append(c)
        return c


def _run(tmp_path: Path, case: Callable[[VolumeService, _Containers, EventBus],
                                         Coroutine[Any, Any, None]]) -> None:
    db = Database(tmp_path / "metadata.db")
    events = EventBus()
    service = VolumeService(tmp_path, VolumeRecords(db), events)
    containers = _Containers()
    service.set_containers(containers)
    try:
        asyncio.run(case(service, containers, events))
    finally:
        db.close()


def test_create_lays_out_dockers_directories_and_is_idempotent(tmp_path: Path) -> None:
    async def case(s: VolumeService, _: _Containers, events: EventBus) -> None:
        v = await s.create(VolumeCreate("data", labels=(("a", "b"),)))
        assert v.mountpoint == str(tmp_path / "volumes" / "data" / "_data")
        assert stat.S_IMODE(os.stat(tmp_path / "volumes").st_mode) == 0o701
        assert stat.S_IMODE(os.stat(tmp_path / "volumes" / "data").st_mode) == 0o701
        assert stat.S_IMODE(os.stat(v.mountpoint).st_mode) == 0o755
        again = await s.create(VolumeCreate("data", labels=(("other", ""),)))
        assert again == v  # the existing volume, its labels unchanged
        assert [x.name for x in s.list()] == ["data"]
        assert [(e.type, e.action, e.actor_id) for e in events._history] == [
            ("volume", "create", "data")]
        anon = await s.create(VolumeCreate())
        assert len(anon.name) == 64 and int(anon.name, 16) >= 0
        assert (ANONYMOUS_LABEL, "") in anon.labels and anon.anonymous

    _run(tmp_path, case)


def test_names_and_options_are_refused_in_dockers_words(tmp_path: Path) -> None:
    async def case(s: VolumeService, _: _Containers, __: EventBus) -> None:
        with pytest.raises(InvalidArgument, match=r"^create x: volume name is too short"):
            await s.create(VolumeCreate("x"))
        with pytest.raises(InvalidArgument, match=r'^create a/b: "a/b" includes invalid'):
            await s.create(VolumeCreate("a/b"))
        with pytest.raises(NotFound, match=r'^create vv: error looking up volume plugin '
                                           r'nfs: plugin "nfs" not found$'):
            await s.create(VolumeCreate("vv", driver="nfs"))
        with pytest.raises(InvalidArgument, match=r'^create vv: invalid option: "uid"$'):
            await s.create(VolumeCreate("vv", options=(("uid", "1"),)))
        with pytest.raises(InvalidArgument, match=r'^create vv: missing required option: '
                                                  r'"type"$'):
            await s.create(VolumeCreate("vv", options=(("device", "/x"),)))
        with pytest.raises(InvalidArgument, match="quota size requested but no quota"):
            await s.create(VolumeCreate("vv", options=(("size", "10m"),)))
        assert s.list() == [] and not (tmp_path / "volumes" / "vv").exists()

    _run(tmp_path, case)


def test_references_come_from_the_container_records(tmp_path: Path) -> None:
    async def case(s: VolumeService, cs: _Containers, events: EventBus) -> None:
        await s.create(VolumeCreate("used"))
        (Path(s.get("used").mountpoint) / "f").write_bytes(b"12345")
        cs.add("c1", "used")
        cs.add("c2", "used", running=True)
        assert s.usage("used").ref_count == 2 and s.usage("used").size == 5
        with pytest.raises(Conflict, match=r"^remove used: volume is in use - \[c1, c2\]$"):
            await s.remove("used", force=True)
        cs.items.clear()
        await s.remove("used")
        assert not (tmp_path / "volumes" / "used").exists()
        with pytest.raises(NotFound, match=r"^get used: no such volume$"):
            await s.remove("used")
        await s.remove("used", force=True)
        assert ("volume", "destroy", "used") in [(e.type, e.action, e.actor_id)
                                                 for e in events._history]

    _run(tmp_path, case)


def test_prune_skips_used_named_and_option_volumes(tmp_path: Path) -> None:
    async def case(s: VolumeService, cs: _Containers, _: EventBus) -> None:
        anon = await s.create(VolumeCreate(labels=(("env", "test"),)))
        used = await s.create(VolumeCreate())
        named = await s.create(VolumeCreate("named"))
        opt = await s.create(VolumeCreate("opt", options=(
            ("type", "tmpfs"), ("device", "tmpfs"))))
        cs.add("c", used.name)
        (Path(anon.mountpoint) / "f").write_bytes(b"x" * 10)
        assert (await s.prune(["env=prod"], False)).deleted == ()
        assert (await s.prune(["env!=test"], False)).deleted == ()
        report = await s.prune(["env=test"], False)
        assert report.deleted == (anon.name,) and report.space_reclaimed == 10
        assert (await s.prune([], True)).deleted == (named.name,)
        assert {v.name for v in s.list()} == {used.name, opt.name}

    _run(tmp_path, case)


def test_a_record_survives_a_new_service(tmp_path: Path) -> None:
    async def case(s: VolumeService, _: _Containers, __: EventBus) -> None:
        v = await s.create(VolumeCreate("kept", options=(
            ("type", "none"), ("o", "bind"), ("device", "/srv"))))
        db = Database(tmp_path / "metadata.db")
        try:
            other = VolumeService(tmp_path, VolumeRecords(db))
            other.set_containers(_Containers())
            assert other.get("kept") == v
            assert dict(v.options) == {"type": "none", "o": "bind", "device": "/srv"}
            assert other.usage("kept").size == -1  # mounted elsewhere: not measured
        finally:
            db.close()

    _run(tmp_path, case)


def test_local_sizes_count_hard_links_once(tmp_path: Path) -> None:
    driver = local.LocalDriver(tmp_path)
    data = driver.create("v1", {})
    (data / "a").write_bytes(b"x" * 100)
    os.link(data / "a", data / "b")
    (data / "d").mkdir()
    (data / "d" / "c").write_bytes(b"y" * 7)
    os.symlink("/etc/passwd", data / "link")
    assert driver.size("v1") == 107 + len("/etc/passwd")
    assert driver.names() == ["v1"]
    driver.remove("v1")
    assert driver.names() == []


def test_mount_points_in_dockers_shape(tmp_path: Path) -> None:
    async def case(s: VolumeService, cs: _Containers, _: EventBus) -> None:
        c = cs.add("c")
        spec = ContainerSpec(image="busybox", mounts=(
            MountSpec("volume", "/v", "vol", mode="z"),
            MountSpec("bind", "/b", "/srv", read_only=True, mode="ro"),
            MountSpec("tmpfs", "/sized", tmpfs_size=1 << 20),
            MountSpec("tmpfs", "/plain", tmpfs_options=("noexec",))))
        points = s.mount_points(replace(c, spec=spec))
        assert [(p.type, p.destination, p.source, p.name, p.driver, p.mode, p.rw,
                 p.propagation) for p in points] == [
            ("bind", "/b", "/srv", "", "", "ro", False, "rprivate"),
            ("tmpfs", "/sized", "", "", "", "", True, ""),
            ("volume", "/v", str(tmp_path / "volumes" / "vol" / "_data"), "vol", "local",
             "z", True, "")]

    _run(tmp_path, case)


def test_start_deletes_directories_without_a_record(tmp_path: Path) -> None:
    """A remove killed after deleting the record (half of the data gone), or a create
    killed before writing it: the next service deletes the directory; a volume with its
    record is kept whole."""
    db = Database(tmp_path / "metadata.db")
    try:
        first = VolumeService(tmp_path, VolumeRecords(db))
        kept = asyncio.run(first.create(VolumeCreate("kept")))
        (Path(kept.mountpoint) / "f").write_text("data\n")
        half = first.driver.create("half", {})
        (half / "left").write_text("what a killed rmtree left\n")
        VolumeService(tmp_path, VolumeRecords(db))
        assert sorted(p.name for p in (tmp_path / "volumes").iterdir()) == ["kept"]
        assert (Path(kept.mountpoint) / "f").read_text() == "data\n"
    finally:
        db.close()


def test_a_claimed_volume_is_in_use_until_let_go(tmp_path: Path) -> None:
    async def case(s: VolumeService, containers: _Containers, _: EventBus) -> None:
        await s.create(VolumeCreate("named"))
        claim = s.claim()
        assert await s.hold("named", claim)
        anon = await s.create(VolumeCreate(), claim)
        assert not await s.hold("missing", claim)
        mounts = (MountSpec("volume", "/n", "named"), MountSpec("volume", "/a", anon.name))
        s.bind_claim(claim, mounts)
        with pytest.raises(Conflict, match=r"remove named: volume is in use - \[\]"):
            await s.remove("named")
        assert (await s.prune([], all_volumes=True)).deleted == ()
        s.let_go(mounts=tuple(list(mounts)))  # an equal tuple (a reloaded record)
        assert set((await s.prune([], all_volumes=True)).deleted) == {"named", anon.name}
    _run(tmp_path, case)
