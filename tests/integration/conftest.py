"""Fixtures shared by the integration tests (real kernel, run as root)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

BUSYBOX = Path("/usr/bin/busybox")

PASSWD = "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000:user:/home/user:/bin/sh\n"
GROUP = "root:x:0:\nuser:x:1000:\n"


def build_busybox_rootfs(root: Path) -> Path:
    """A minimal rootfs: the host's static busybox with one symlink per applet."""
    for d in ("bin", "proc", "sys", "dev", "etc", "tmp", "root", "home/user", "mnt"):
        (root / d).mkdir(parents=True, exist_ok=True)
    os.chmod(root / "tmp", 0o1777)
    shutil.copy2(BUSYBOX, root / "bin/busybox")
    applets = subprocess.run([str(BUSYBOX), "--list"], check=True, capture_output=True,
                             text=True).stdout.split()
    for applet in applets:
        link = root / "bin" / applet
        if applet != "busybox" and not link.exists():
            link.symlink_to("busybox")
    (root / "etc/passwd").write_text(PASSWD)
    (root / "etc/group").write_text(GROUP)
    os.chown(root / "home/user", 1000, 1000)
    return root


@pytest.fixture(scope="session")
def busybox_rootfs_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not BUSYBOX.exists():
        pytest.skip("needs a static busybox at /usr/bin/busybox")
    return build_busybox_rootfs(tmp_path_factory.mktemp("busybox-template") / "rootfs")


@pytest.fixture
def busybox_rootfs(busybox_rootfs_template: Path, tmp_path: Path) -> Path:
    """A fresh, writable copy of the busybox rootfs for one test."""
    root = tmp_path / "rootfs"
    shutil.copytree(busybox_rootfs_template, root, symlinks=True)
    return root


def mounts_under(prefix: str) -> list[str]:
    """Mount points at or below ``prefix`` in this process's mount namespace."""
    with open("/proc/self/mountinfo") as f:
        points = [line.split()[4] for line in f]
    return [p for p in points if p == prefix or p.startswith(prefix.rstrip("/") + "/")]


def unmount_all_under(prefix: str) -> None:
    """Lazily unmount everything below ``prefix``, deepest first (cleanup after failures)."""
    for point in sorted(mounts_under(prefix), key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False)
