"""Volumes on the real services over the native runtime with busybox (issue 12): the
ContainerService with the network and volume preparers, as ``daemon.serve`` wires them.

Containers run with ``--network none`` and report what they saw into a bind-mounted host
directory, so every assertion reads real files the kernel mounted.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import stat
import tempfile
from pathlib import Path

import pytest
from tests.integration.engine.volengine import IMAGE, Engine, engine, image_with_volume

from berth.engine.containers.model import ContainerSpec, MountSpec, Status
from berth.engine.volumes.model import VolumeCreate
from berth.errors import Conflict, InvalidArgument, NotFound
from berth.runtime import host

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root, overlayfs and mounts"),
]


@pytest.fixture(scope="module", autouse=True)
def _volimg(root: Path) -> None:
    asyncio.run(image_with_volume(root))


def _out(root: Path) -> Path:
    out = Path(tempfile.mkdtemp(dir=root, prefix="out"))
    return out


def _bind(source: Path | str, target: str, **kw: object) -> MountSpec:
    return MountSpec(type="bind", source=str(source), target=target, **kw)  # type: ignore[arg-type]


def _vol(name: str, target: str, **kw: object) -> MountSpec:
    return MountSpec(type="volume", source=name, target=target, **kw)  # type: ignore[arg-type]


async def _run(e: Engine, script: str, *mounts: MountSpec, image: str = "busybox",
               name: str | None = None, **spec: object) -> str:
    """Create and start a container running ``sh -c script``; wait for its exit (0)."""
    c = await e.containers.create(name, ContainerSpec(
        image=image, cmd=("sh", "-c", script), network_mode="none", mounts=mounts,
        **spec))  # type: ignore[arg-type]
    waiter = e.containers.waiter(c.id, "next-exit")
    await e.containers.start(c.id)
    code = await asyncio.wait_for(waiter, 60)
    assert code == 0, f"{script!r} exited {code}"
    return c.id


def run(coro_fn: object) -> None:
    asyncio.run(asyncio.wait_for(coro_fn(), 180))  # type: ignore[operator]


def test_named_volume_outlives_its_container_and_is_in_use_meanwhile(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            out = _out(root)
            a = await _run(e, "echo kept > /data/f", _vol("keep", "/data"))
            vol = e.volumes.get("keep")
            assert not vol.anonymous
            assert (Path(vol.mountpoint) / "f").read_text() == "kept\n"
            assert e.volumes.usage("keep").ref_count == 1
            with pytest.raises(Conflict, match=rf"remove keep: volume is in use - \[{a}\]"):
                await e.volumes.remove("keep")  # exited, but its record names it
            points = e.volumes.mount_points(e.containers.get(a))
            assert [(p.type, p.name, p.destination, p.driver, p.mode, p.rw)
                    for p in points] == [("volume", "keep", "/data", "local", "z", True)]
            assert points[0].source == vol.mountpoint
            await e.containers.remove(a, volumes=True)  # named: kept
            await _run(e, "cat /data/f > /out/seen", _vol("keep", "/data"),
                       _bind(out, "/out"))
            assert (out / "seen").read_text() == "kept\n"
            seen = [(ev.action, dict(ev.attributes).get("container"))
                    for ev in e.events._history if ev.type == "volume"
                    and ev.actor_id == "keep"]
            assert seen[0] == ("create", None)
            assert [a for a, _ in seen[1:]] == ["mount", "unmount"] * 2
            for c in e.containers.list():
                await e.containers.remove(c.id)
            assert e.volumes.usage("keep").ref_count == 0
            await e.volumes.remove("keep")
            assert not Path(vol.mountpoint).parent.exists()
            with pytest.raises(NotFound, match="get keep: no such volume"):
                e.volumes.get("keep")
    run(main)


def test_anonymous_volumes_go_with_rm_v_and_auto_remove(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            a = await _run(e, "echo x > /anon/f", MountSpec(type="volume", target="/anon"))
            name = e.containers.get(a).spec.mounts[0].source
            assert len(name) == 64 and e.volumes.get(name).anonymous
            await e.containers.remove(a)  # without -v: kept
            assert e.volumes.get(name)
            b = await _run(e, "true", _vol(name, "/anon"))
            await e.containers.remove(b, volumes=True)
            with pytest.raises(NotFound):
                e.volumes.get(name)
            # --rm: the anonymous volume goes with the container
            c = await e.containers.create(None, ContainerSpec(
                image="busybox", cmd=("true",), network_mode="none", auto_remove=True,
                mounts=(MountSpec(type="volume", target="/auto"),)))
            auto = c.spec.mounts[0].source
            waiter = e.containers.waiter(c.id, "removed")
            await e.containers.start(c.id)
            await asyncio.wait_for(waiter, 60)
            for _ in range(100):
                if auto not in {v.name for v in e.volumes.list()}:
                    break
                await asyncio.sleep(0.05)
            assert auto not in {v.name for v in e.volumes.list()}
    run(main)


def test_binds_read_only_tmpfs_and_a_read_only_root(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            out = _out(root)
            src = Path(tempfile.mkdtemp(dir=root))
            (src / "in").write_text("host file\n")
            (src / "hosts").write_text("10.9.9.9 mine\n")
            made = root / f"made-{secrets.token_hex(3)}"
            await _run(
                e,
                "cat /ro/in > /out/read; (echo no > /ro/x) 2>/dev/null && echo wrote"
                " > /out/ro; echo yes > /t/f && grep ' /t ' /proc/mounts > /out/tmpfs;"
                " (echo no > /rootfile) 2>/dev/null && echo wrote > /out/root;"
                " echo fine > /out/rw; ls -d /made > /out/made; cat /etc/hosts /etc/one"
                " > /out/files",
                _bind(src, "/ro", read_only=True), _bind(out, "/out"),
                _bind(src / "hosts", "/etc/hosts"), _bind(src / "in", "/etc/one"),
                _bind(made, "/made", create_source=True),
                MountSpec(type="tmpfs", target="/t", tmpfs_size=8 << 20),
                readonly_rootfs=True)
            assert (out / "read").read_text() == "host file\n"
            assert not (out / "ro").exists() and not (src / "x").exists()
            assert not (out / "root").exists()
            assert (out / "rw").read_text() == "fine\n"  # a writable bind on a ro root
            tmpfs = (out / "tmpfs").read_text()
            assert "tmpfs" in tmpfs and "size=8192k" in tmpfs and "noexec" in tmpfs
            assert made.is_dir() and (out / "made").read_text() == "/made\n"
            # file binds; a bind at /etc/hosts replaces the network's, as docker's
            assert (out / "files").read_text() == "10.9.9.9 mine\nhost file\n"
    run(main)


def test_mount_refusals_in_dockers_words(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            async def create(*mounts: MountSpec, **kw: object) -> None:
                await e.containers.create(None, ContainerSpec(
                    image="busybox", network_mode="none", mounts=mounts,
                    **kw))  # type: ignore[arg-type]

            with pytest.raises(InvalidArgument, match='invalid mount config for type '
                               '"bind": bind source path does not exist: /nonexistent/x'):
                await create(_bind("/nonexistent/x", "/x"))
            with pytest.raises(InvalidArgument, match="Duplicate mount point: /x"):
                await create(MountSpec(type="tmpfs", target="/x"),
                             _vol("dup", "/x/"))
            with pytest.raises(InvalidArgument, match="mount path must be absolute"):
                await create(MountSpec(type="tmpfs", target="x"))
            with pytest.raises(InvalidArgument, match="No such container: nope"):
                await create(volumes_from=("nope",))
            with pytest.raises(InvalidArgument, match='"a@b" includes invalid characters'):
                await create(_vol("a@b", "/x"))
            assert e.containers.list() == [] and e.volumes.list() == []
    run(main)


def test_an_image_volume_is_seeded_once_with_owner_and_mode(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            out = _out(root)
            a = await _run(e, "cat /seeded/hello > /out/hello; rm /seeded/hello",
                           _bind(out, "/out"), image=IMAGE)
            (m,) = [m for m in e.containers.get(a).spec.mounts if m.target == "/seeded"]
            vol = e.volumes.get(m.source)
            assert vol.anonymous
            assert (out / "hello").read_text() == "from the image\n"
            data = Path(vol.mountpoint)
            st = os.stat(data)
            assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1000, 1000, 0o750)
            # emptied by its container: a restart does not seed it again
            await e.containers.start(a)
            await asyncio.wait_for(e.containers.waiter(a), 60)
            assert not any(data.iterdir())
            # a named volume over the image's directory is seeded too (not with nocopy)
            await _run(e, "ls /seeded > /out/named", _vol("seedme", "/seeded"),
                       _bind(out, "/out"), image=IMAGE)
            assert (out / "named").read_text() == "hello\n"
            await _run(e, "ls /seeded > /out/nocopy", _vol("nocp", "/seeded", nocopy=True),
                       _bind(out, "/out"), image=IMAGE)
            assert (out / "nocopy").read_text() == ""
    run(main)


def test_volumes_from_copies_mounts_and_ro_makes_them_read_only(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            out = _out(root)
            await _run(e, "echo shared > /data/f", _vol("vf", "/data"),
                       MountSpec(type="volume", target="/anon"), name="donor")
            await _run(e, "cat /data/f > /out/f; (echo x > /data/g) 2>/dev/null &&"
                       " echo wrote > /out/g; true", _bind(out, "/out"),
                       volumes_from=("donor:ro",))
            assert (out / "f").read_text() == "shared\n"
            assert not (out / "g").exists()
            (c,) = [c for c in e.containers.list() if c.name != "donor"]
            vf = next(m for m in c.spec.mounts if m.target == "/data")
            assert vf.source == "vf" and vf.read_only
            assert {m.target for m in c.spec.mounts} == {"/data", "/anon", "/out"}
            with pytest.raises(Conflict):
                await e.volumes.remove("vf")
    run(main)


def test_local_driver_tmpfs_volume_is_mounted_while_used(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            out = _out(root)
            with pytest.raises(InvalidArgument, match='create bad: invalid option: "foo"'):
                await e.volumes.create(VolumeCreate(name="bad", options=(("foo", "1"),)))
            with pytest.raises(InvalidArgument, match='missing required option: "device"'):
                await e.volumes.create(VolumeCreate(name="bad", options=(("type", "tmpfs"),)))
            vol = await e.volumes.create(VolumeCreate(name="tv", options=(
                ("type", "tmpfs"), ("device", "tmpfs"), ("o", "size=4m"))))
            assert await e.volumes.create(VolumeCreate(name="tv")) == vol  # idempotent
            data = Path(vol.mountpoint)
            assert not host.is_mount_point(data)
            c = await e.containers.create(None, ContainerSpec(
                image="busybox", cmd=("sh", "-c", "grep ' /v ' /proc/mounts > /out/m;"
                                      " echo hi > /v/f; sleep 30"),
                network_mode="none", mounts=(_vol("tv", "/v"), _bind(out, "/out"))))
            await e.containers.start(c.id)
            for _ in range(100):
                if (out / "m").exists() and (data / "f").exists():
                    break
                await asyncio.sleep(0.1)
            assert host.is_mount_point(data)
            assert "tmpfs" in (out / "m").read_text()
            assert (data / "f").read_text() == "hi\n"
            assert e.volumes.usage("tv").size == -1
            await e.containers.stop(c.id, timeout=0)
            assert e.containers.get(c.id).state.status == Status.EXITED
            assert not host.is_mount_point(data)  # the last user stopped
            assert not (data / "f").exists()  # a tmpfs: gone with the mount
            await e.containers.remove(c.id)
            await e.volumes.remove("tv")
            assert not data.parent.exists()
    run(main)


def test_prune_removes_unused_anonymous_volumes_only_by_default(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            anon = await e.volumes.create(VolumeCreate())
            named = await e.volumes.create(VolumeCreate(name="pruneme",
                                                        labels=(("k", "v"),)))
            (Path(anon.mountpoint) / "f").write_bytes(b"x" * 100)
            report = await e.volumes.prune([], all_volumes=False)
            assert report.deleted == (anon.name,) and report.space_reclaimed == 100
            assert (await e.volumes.prune(["k=other"], all_volumes=True)).deleted == ()
            assert (await e.volumes.prune(["k=v"], all_volumes=True)).deleted == (
                named.name,)
    run(main)


def test_a_link_in_the_image_at_a_target_stays_inside_the_root(root: Path) -> None:
    """/escape links to a host path and /up climbs past /: mounts through them land in
    the container's root, never on the host."""
    async def main() -> None:
        async with engine(root) as e:
            out = _out(root)
            hostside = root / "hostside"
            await _run(e, "echo in > /escape/t/f;"
                       f" echo up > /up/u/f; ls -d /u/ {hostside}/t/ > /out/ls 2>&1;"
                       " true",
                       MountSpec(type="tmpfs", target="/escape/t"),
                       MountSpec(type="volume", target="/up/u"), _bind(out, "/out"),
                       image=IMAGE)
            assert not (hostside / "t").exists()
            assert not Path("/u").exists()
            assert not host.is_mount_point(hostside / "t")
            ls = (out / "ls").read_text()
            # inside the root, /up/u is /u and /escape/t is <hostside>/t
            assert ls.split() == [f"{hostside}/t/", "/u/"]
            (c,) = e.containers.list()
            up = next(m.source for m in c.spec.mounts if m.target == "/up/u")
            assert (Path(e.volumes.get(up).mountpoint) / "f").read_text() == "up\n"
    run(main)


@pytest.mark.parametrize("runtime", ["/usr/sbin/runc", "/usr/bin/crun"])
def test_runc_and_crun_mount_the_same_spec(root: Path, runtime: str) -> None:
    if not os.path.exists(runtime):
        pytest.skip(f"{runtime} is not installed")

    async def main() -> None:
        async with engine(root) as e:
            out = _out(root)
            src = Path(tempfile.mkdtemp(dir=root))
            (src / "in").write_text("host\n")
            await _run(
                e, "cat /ro/in > /out/read; (echo x > /ro/x) 2>/dev/null && echo w"
                " > /out/ro; echo v > /v/f; echo t > /t/f && grep ' /t ' /proc/mounts"
                " > /out/tmpfs; cat /seeded/hello > /out/seeded; (echo n > /nope)"
                " 2>/dev/null && echo w > /out/root; true",
                _bind(src, "/ro", read_only=True), _bind(out, "/out"),
                _vol(f"rt{secrets.token_hex(2)}", "/v"),
                MountSpec(type="tmpfs", target="/t", tmpfs_size=4 << 20),
                # crun refuses a target through a link to a path the root lacks (its
                # openat2 does not make it); runc makes it inside the root
                *([MountSpec(type="tmpfs", target="/escape/t")] if "runc" in runtime
                  else []),
                image=IMAGE, runtime=runtime, readonly_rootfs=True)
            assert (out / "read").read_text() == "host\n"
            assert not (out / "ro").exists() and not (out / "root").exists()
            assert "size=4096k" in (out / "tmpfs").read_text()
            assert (out / "seeded").read_text() == "from the image\n"
            assert not (root / "hostside" / "t").exists()
            (c,) = e.containers.list()
            v = next(m.source for m in c.spec.mounts if m.target == "/v")
            assert (Path(e.volumes.get(v).mountpoint) / "f").read_text() == "v\n"
    run(main)


def test_a_bind_volume_shows_the_host_directory_and_removal_keeps_it(root: Path) -> None:
    """-o type=none,o=bind,device=DIR: the container writes into DIR; removing the
    volume unmounts it and never deletes DIR's files."""
    async def main() -> None:
        async with engine(root) as e:
            device = Path(tempfile.mkdtemp(dir=root))
            (device / "keep").write_text("host data\n")
            vol = await e.volumes.create(VolumeCreate(name="bv", options=(
                ("type", "none"), ("o", "bind"), ("device", str(device)))))
            out = _out(root)
            await _run(e, "cat /b/keep > /out/seen; echo c > /b/new", _vol("bv", "/b"),
                       _bind(out, "/out"))
            assert (out / "seen").read_text() == "host data\n"
            assert (device / "new").read_text() == "c\n"
            assert not host.is_mount_point(vol.mountpoint)  # unmounted at the exit
            (c,) = e.containers.list()
            # mounted again, as a user starting would, then removed with the volume
            await e.volumes.acquire("bv", "someone")
            assert host.is_mount_point(vol.mountpoint)
            await e.containers.remove(c.id)
            with pytest.raises(Conflict):  # held by a run
                await e.volumes.remove("bv")
            await e.volumes.release("bv", "someone")
            await e.volumes.remove("bv")
            assert sorted(p.name for p in device.iterdir()) == ["keep", "new"]
            assert not Path(vol.mountpoint).exists()
    run(main)


def test_a_create_refused_after_the_check_leaves_no_anonymous_volume(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            await e.containers.create("taken", ContainerSpec(image=IMAGE,
                                                             network_mode="none"))
            before = {v.name for v in e.volumes.list()}
            with pytest.raises(Conflict):
                await e.containers.create("taken", ContainerSpec(
                    image=IMAGE, network_mode="none",
                    mounts=(MountSpec(type="volume", target="/anon"),)))
            assert {v.name for v in e.volumes.list()} == before
    run(main)


def test_a_build_container_gets_no_volume_for_the_images_volume(root: Path) -> None:
    """A RUN after VOLUME writes into the layer (BuildKit's behaviour), not an anonymous
    volume that would outlive the step."""
    async def main() -> None:
        async with engine(root) as e:
            c = await e.containers.create(None, ContainerSpec(
                image=IMAGE, network_mode="none", image_volumes=False))
            assert c.spec.mounts == () and e.volumes.list() == []
    run(main)


def test_a_check_refused_midway_removes_the_anonymous_volumes_it_made(root: Path) -> None:
    async def main() -> None:
        async with engine(root) as e:
            with pytest.raises(InvalidArgument, match='invalid option: "bogus"'):
                await e.containers.create(None, ContainerSpec(
                    image="busybox", network_mode="none", mounts=(
                        MountSpec(type="volume", target="/a"),
                        _vol("badopts", "/b", volume_options=(("bogus", "1"),)))))
            assert e.volumes.list() == []
    run(main)
