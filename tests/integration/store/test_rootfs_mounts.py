"""Real mounts of snapshots (root, overlayfs): the conformance suite with the kernel."""

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parents[2] / "unit" / "store"))
from snapshotter_suite import IMPLEMENTATIONS, commit_layer, make_snapshotter

from berth.engine.images import ImageService
from berth.oci.mount import Mount
from berth.store.metadata.db import Database
from berth.store.snapshots.overlay import OverlaySnapshotter

pytestmark = [
    pytest.mark.root,
    pytest.mark.skipif(os.geteuid() != 0, reason="needs root for mounts"),
]


def mount(mounts: list[Mount], target: Path) -> None:
    target.mkdir(parents=True, exist_ok=True)
    (m,) = mounts
    if m.type == "bind":
        subprocess.run(["mount", "--rbind", m.source, str(target)], check=True)
        if "ro" in m.options:
            subprocess.run(["mount", "-o", "remount,bind,ro", str(target)], check=True)
    else:
        subprocess.run(["mount", "-t", m.type, m.source, "-o", ",".join(m.options),
                        str(target)], check=True)


def umount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], check=False)


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def snapshotter(request, tmp_path):
    return make_snapshotter(request.param, tmp_path / "sn")


def test_write_and_delete_through_mount_leave_lower_untouched(snapshotter, tmp_path):
    commit_layer(snapshotter, "base", None, {"etc/keep": b"keep", "etc/gone": b"gone"})
    commit_layer(snapshotter, "top", "base", {"etc/top": b"top"})
    target = tmp_path / "mnt"
    mount(snapshotter.prepare("c1", "top"), target)
    try:
        assert sorted(os.listdir(target / "etc")) == ["gone", "keep", "top"]
        (target / "etc/gone").unlink()
        (target / "etc/new").write_bytes(b"new")
        (target / "etc/keep").write_bytes(b"changed")
    finally:
        umount(target)
    view = tmp_path / "view"
    mount(snapshotter.view("v", "top"), view)
    try:
        assert sorted(os.listdir(view / "etc")) == ["gone", "keep", "top"]
        assert (view / "etc/keep").read_bytes() == b"keep"
        with pytest.raises(OSError):
            (view / "etc/x").write_bytes(b"ro")
    finally:
        umount(view)
    mount(snapshotter.mounts("c1"), target)
    try:
        assert sorted(os.listdir(target / "etc")) == ["keep", "new", "top"]
    finally:
        umount(target)
    snapshotter.remove("c1")
    snapshotter.remove("v")


@pytest.fixture
def service(tmp_path):
    return ImageService(tmp_path, Database(tmp_path / "metadata.db"),
                        OverlaySnapshotter(tmp_path / "snapshots" / "overlay"))


@pytest.mark.skipif(not Path("/bin/busybox").exists(), reason="needs /bin/busybox")
def test_busybox_rootfs_on_overlay(service, tmp_path):
    async def scenario() -> None:
        image = await service.bootstrap("busybox")
        one, two = tmp_path / "one", tmp_path / "two"
        mount(await service.prepare_rootfs(image.id, "c1"), one)
        try:
            mount(await service.prepare_rootfs("busybox", "c2"), two)
            try:
                assert (one / "bin/sh").is_symlink()
                out = subprocess.run(["chroot", str(one), "/bin/sh", "-c", "echo hi"],
                                     capture_output=True, text=True, check=True).stdout
                assert out == "hi\n"
                subprocess.run(["rm", "-rf", str(one / "bin")], check=True)
                assert not (one / "bin").exists()
                assert (two / "bin/sh").is_symlink() and (two / "bin/busybox").is_file()
            finally:
                umount(two)
        finally:
            umount(one)
        assert await service.rootfs_usage("c1") >= 0
        layer = service.writable_path(image.chain_id)
        assert (layer / "bin/busybox").is_file()
        await service.remove_rootfs("c1")
        await service.remove_rootfs("c2")
        assert (await service.remove("busybox", False, lambda _: []))[-1][0] == "Deleted"
        assert os.listdir(tmp_path / "snapshots/overlay/snapshots") == []

    asyncio.run(scenario())
