"""The conformance suite of ``VolumeBackend``: what the volume and container routes rely
on, and its errors (docker's ``OpErr`` words: ``get NAME: no such volume``,
``remove NAME: volume is in use - [ID]``).

``test_fakes.py`` runs it against ``FakeVolumes``; the engine can run it against the real
``VolumeService`` (with the container service its preparer is bound to). A subclass
provides ``open_backends``; each case runs in a loop of its own with fresh backends, and
names its volumes with ``prefix`` so a real run clashes with nothing. Containers are only
created (never started), so nothing here needs a kernel beyond the real service's own.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from dataclasses import dataclass

import pytest
from tests.unit.api.server.suite import BackendSuite

from berth.api.server.backend import ContainerBackend, VolumeBackend
from berth.engine.containers.model import ContainerSpec, MountSpec
from berth.engine.volumes.model import VolumeCreate
from berth.errors import Conflict, InvalidArgument, NotFound


@dataclass(frozen=True)
class VolumeBackends:
    volumes: VolumeBackend
    containers: ContainerBackend
    image: str  # an image the container backend knows (busybox for the real one)
    prefix: str  # for volume names: a real run's must not clash with anything else

    def spec(self, *mounts: MountSpec, volumes_from: tuple[str, ...] = ()) -> ContainerSpec:
        return ContainerSpec(image=self.image, cmd=("true",), mounts=mounts,
                             volumes_from=volumes_from)


class VolumeBackendSuite(BackendSuite[VolumeBackends]):
    def test_create_keeps_labels_and_options_and_is_found(self) -> None:
        async def case(b: VolumeBackends) -> None:
            v = await b.volumes.create(VolumeCreate(f"{b.prefix}a", labels=(("k", "v"),)))
            assert (v.name, v.driver, v.scope) == (f"{b.prefix}a", "local", "local")
            assert v.labels == (("k", "v"),) and v.options == () and not v.anonymous
            assert v.mountpoint.startswith("/") and v.created
            assert b.volumes.get(v.name) == v
            assert v.name in [x.name for x in b.volumes.list()]
            assert b.volumes.usage(v.name).ref_count == 0

        self.run(case)

    def test_create_is_idempotent_and_names_a_volume_without_one(self) -> None:
        async def case(b: VolumeBackends) -> None:
            v = await b.volumes.create(VolumeCreate(f"{b.prefix}a"))
            assert await b.volumes.create(VolumeCreate(f"{b.prefix}a")) == v
            anon = await b.volumes.create(VolumeCreate())
            assert re.fullmatch(r"[0-9a-f]{64}", anon.name)
            await b.volumes.remove(anon.name)

        self.run(case)

    def test_create_refusals(self) -> None:
        async def case(b: VolumeBackends) -> None:
            with pytest.raises(InvalidArgument, match="includes invalid characters for a "
                                                      "local volume name"):
                await b.volumes.create(VolumeCreate("./relative"))
            with pytest.raises(NotFound, match="plugin"):
                await b.volumes.create(VolumeCreate(f"{b.prefix}x", driver="nosuch"))
            with pytest.raises(InvalidArgument, match="invalid option"):
                await b.volumes.create(VolumeCreate(f"{b.prefix}y", options=(("bogus", "1"),)))
            assert f"{b.prefix}x" not in [v.name for v in b.volumes.list()]

        self.run(case)

    def test_unknown_volumes_are_not_found(self) -> None:
        async def case(b: VolumeBackends) -> None:
            with pytest.raises(NotFound, match=f"get {b.prefix}nope: no such volume"):
                b.volumes.get(f"{b.prefix}nope")
            with pytest.raises(NotFound, match="no such volume"):
                await b.volumes.remove(f"{b.prefix}nope")
            await b.volumes.remove(f"{b.prefix}nope", force=True)  # force: no error

        self.run(case)

    def test_a_volume_in_use_is_not_removed_even_by_force(self) -> None:
        async def case(b: VolumeBackends) -> None:
            name = f"{b.prefix}used"
            c = await b.containers.create(None, b.spec(MountSpec("volume", "/data", name)))
            assert b.volumes.get(name).name == name  # made by the container's create
            assert b.volumes.usage(name).ref_count == 1
            for force in (False, True):
                with pytest.raises(Conflict, match=f"remove {name}: volume is in use - "
                                                   rf"\[{c.id}\]"):
                    await b.volumes.remove(name, force=force)
            await b.containers.remove(c.id)
            assert b.volumes.usage(name).ref_count == 0
            await b.volumes.remove(name)
            with pytest.raises(NotFound):
                b.volumes.get(name)

        self.run(case)

    def test_anonymous_volumes_go_with_rm_v_only(self) -> None:
        async def case(b: VolumeBackends) -> None:
            named = f"{b.prefix}kept"
            specs = (MountSpec("volume", "/anon"), MountSpec("volume", "/named", named))
            kept = await b.containers.create(None, b.spec(*specs))
            gone = await b.containers.create(None, b.spec(*specs))
            anon = {c.id: next(m.source for m in c.spec.mounts if m.target == "/anon")
                    for c in (b.containers.get(kept.id), b.containers.get(gone.id))}
            for name in anon.values():
                assert re.fullmatch(r"[0-9a-f]{64}", name) and b.volumes.get(name).anonymous
            await b.containers.remove(kept.id)
            await b.containers.remove(gone.id, volumes=True)
            assert b.volumes.get(anon[kept.id]).anonymous  # no -v: still there
            with pytest.raises(NotFound):
                b.volumes.get(anon[gone.id])
            assert not b.volumes.get(named).anonymous  # -v never removes a named one
            for name in (anon[kept.id], named):
                await b.volumes.remove(name)

        self.run(case)

    def test_prune_takes_unused_anonymous_volumes_unless_all(self) -> None:
        async def case(b: VolumeBackends) -> None:
            lbl = ("suite", b.prefix)
            named = await b.volumes.create(VolumeCreate(f"{b.prefix}n", labels=(lbl,)))
            anon = await b.volumes.create(VolumeCreate(labels=(
                lbl, ("com.docker.volume.anonymous", ""))))
            used = await b.volumes.create(VolumeCreate(f"{b.prefix}u", labels=(lbl,)))
            c = await b.containers.create(None, b.spec(MountSpec("volume", "/u", used.name)))
            flt = [f"suite={b.prefix}"]
            report = await b.volumes.prune(flt, all_volumes=False)
            assert report.deleted == (anon.name,) and report.space_reclaimed >= 0
            assert (await b.volumes.prune([*flt, "other"], True)).deleted == ()
            assert (await b.volumes.prune([*flt, f"suite!={b.prefix}"], True)).deleted == ()
            assert (await b.volumes.prune(flt, True)).deleted == (named.name,)
            assert b.volumes.get(used.name) == used
            await b.containers.remove(c.id)
            await b.volumes.remove(used.name)

        self.run(case)

    def test_mount_points_show_each_mount_in_dockers_shape(self) -> None:
        async def case(b: VolumeBackends) -> None:
            src = tempfile.mkdtemp(prefix="berth-suite-")
            try:
                name = f"{b.prefix}mp"
                c = await b.containers.create(None, b.spec(
                    MountSpec("bind", "/host", src, read_only=True, create_source=True,
                              mode="ro"),
                    MountSpec("volume", "/data", name)))
                points = {p.destination: p for p in
                          b.volumes.mount_points(b.containers.get(c.id))}
                bind, vol = points["/host"], points["/data"]
                assert (bind.type, bind.source, bind.rw, bind.mode) == ("bind", src, False,
                                                                        "ro")
                assert bind.propagation == "rprivate"
                assert (vol.type, vol.name, vol.driver, vol.rw) == ("volume", name, "local",
                                                                    True)
                assert vol.source == b.volumes.get(name).mountpoint
                await b.containers.remove(c.id)
                await b.volumes.remove(name)
            finally:
                shutil.rmtree(src, ignore_errors=True)

        self.run(case)

    def test_volumes_from_takes_the_other_containers_volumes(self) -> None:
        async def case(b: VolumeBackends) -> None:
            name = f"{b.prefix}shared"
            first = await b.containers.create(None, b.spec(MountSpec("volume", "/s", name)))
            second = await b.containers.create(None, b.spec(
                volumes_from=(f"{first.id}:ro",)))
            points = b.volumes.mount_points(b.containers.get(second.id))
            assert [(p.destination, p.name, p.rw) for p in points] == [("/s", name, False)]
            assert b.volumes.usage(name).ref_count == 2
            with pytest.raises((NotFound, InvalidArgument)):
                await b.containers.create(None, b.spec(volumes_from=(f"{b.prefix}nope",)))
            for c in (second, first):
                await b.containers.remove(c.id)
            await b.volumes.remove(name)

        self.run(case)
