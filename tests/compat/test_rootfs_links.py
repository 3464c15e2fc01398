"""An image's or container's symlinks are resolved inside its root filesystem by the reads
and writes berthd makes in it before the container runs (WORKDIR creation, the user and
group lookup), as docker does: ``/app -> /somewhere`` means the rootfs's ``/somewhere``,
never the host's. Each test points the links at a directory of its own on the host and
checks that nothing there was created or read."""

from __future__ import annotations

import io
import subprocess
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.compat.daemon import Daemon
from tests.tarballs import entry, make_tar

HOST_PASSWD = b"root:x:0:0:root:/root:/bin/sh\nevil:x:4242:4242::/:/bin/sh\n"
IMAGE_PASSWD_LINE = b"evil:x:1234:1234::/:/bin/sh\n"


@pytest.fixture
def host_dir(tmp_path: Path) -> Iterator[Path]:
    """A host directory the images' links point at, holding a passwd of its own."""
    d = tmp_path / "host"
    d.mkdir()
    (d / "passwd").write_bytes(HOST_PASSWD)
    yield d
    assert sorted(p.name for p in d.iterdir()) == ["passwd"], "berthd wrote on the host"


@pytest.fixture(scope="module")
def busybox_members(daemon: Daemon) -> list[tuple[tarfile.TarInfo, bytes]]:
    """busybox's root filesystem as tar members (through ``docker export``)."""
    cid = daemon.docker("create", "busybox").stdout.strip()
    try:
        raw = subprocess.run(["docker", "-H", daemon.host, "export", cid], check=True,
                             capture_output=True, timeout=60).stdout
    finally:
        daemon.docker("rm", cid)
    members = []
    with tarfile.open(fileobj=io.BytesIO(raw)) as tf:
        for info in tf:
            data = tf.extractfile(info).read() if info.isreg() else b""  # type: ignore[union-attr]
            members.append((info, data))
    return members


def import_image(d: Daemon, tmp_path: Path, name: str,
                 members: list[tuple[tarfile.TarInfo, bytes]]) -> str:
    tar = tmp_path / f"{name.replace('/', '-').replace(':', '_')}.tar"
    tar.write_bytes(make_tar(*members))
    d.docker("import", str(tar), name)
    return name


def parents(path: Path) -> list[tuple[tarfile.TarInfo, bytes]]:
    """Directory members for ``path`` (absolute) and its parents, as in-image paths."""
    rel = path.relative_to("/").parts
    return [entry("/".join(rel[:i]), tarfile.DIRTYPE, mode=0o755)
            for i in range(1, len(rel) + 1)]


def test_workdir_through_an_image_symlink_is_made_in_the_rootfs(
        daemon: Daemon, busybox_members: list[tuple[tarfile.TarInfo, bytes]],
        host_dir: Path, tmp_path: Path) -> None:
    image = import_image(daemon, tmp_path, "rootfs-links/workdir:1", [
        *busybox_members, entry("app", tarfile.SYMTYPE, linkname=str(host_dir))])
    try:
        out = daemon.docker("run", "--rm", "-w", "/app/x", image, "sh", "-c",
                            f"ls -d {host_dir}/x; readlink /app").stdout
        assert out == f"{host_dir}/x\n{host_dir}\n"
    finally:
        daemon.docker("rmi", image, check=False)


def test_workdir_through_a_symlink_the_container_made_is_made_in_the_rootfs(
        daemon: Daemon, host_dir: Path) -> None:
    """The first run creates /app/x, then swaps /app for a link; the next start must
    create /app/x again through the link, inside the container's writable layer."""
    script = (f"if [ -L /app ]; then ls -d {host_dir}/x; "
              f"else cd / && rm -rf /app && ln -s {host_dir} /app; fi")
    name = f"rootfs-links-{time.monotonic_ns()}"
    daemon.docker("run", "--name", name, "-w", "/app/x", "busybox", "sh", "-c", script)
    try:
        assert daemon.docker("start", "-a", name).stdout == f"{host_dir}/x\n"
    finally:
        daemon.docker("rm", "-f", name, check=False)


@pytest.mark.parametrize("link", ["etc/passwd", "etc"])
def test_user_lookup_follows_symlinks_inside_the_rootfs(
        daemon: Daemon, busybox_members: list[tuple[tarfile.TarInfo, bytes]],
        host_dir: Path, tmp_path: Path, link: str) -> None:
    """``--user evil`` finds evil in the rootfs's copy of the linked file (uid 1234), not
    in the host's (4242), for a link at /etc/passwd and at /etc."""
    inside = [*parents(host_dir)]
    members = []
    for info, data in busybox_members:
        if link == "etc" and (info.name == "etc" or info.name.startswith("etc/")):
            continue  # the whole /etc moves to the linked path inside the image
        members.append((info, data))
    etc_members = [(i, d) for i, d in busybox_members if i.name.startswith("etc/")]
    if link == "etc":
        for info, data in etc_members:
            moved = tarfile.TarInfo(f"{str(host_dir).lstrip('/')}/{info.name[4:]}")
            moved.type, moved.mode, moved.size = info.type, info.mode, info.size
            moved.linkname, moved.mtime = info.linkname, info.mtime
            if info.name == "etc/passwd":
                data += IMAGE_PASSWD_LINE
                moved.size = len(data)
            inside.append((moved, data))
        members += [*inside, entry("etc", tarfile.SYMTYPE, linkname=str(host_dir))]
    else:
        passwd = next(d for i, d in etc_members if i.name == "etc/passwd")
        members = [(i, d) for i, d in members if i.name != "etc/passwd"]
        members += [*inside, entry(f"{str(host_dir).lstrip('/')}/passwd",
                                   data=passwd + IMAGE_PASSWD_LINE),
                    entry("etc/passwd", tarfile.SYMTYPE, linkname=f"{host_dir}/passwd")]
    image = import_image(daemon, tmp_path, f"rootfs-links/user-{link.replace('/', '-')}:1",
                         members)
    name = f"rootfs-links-{time.monotonic_ns()}"
    try:
        assert daemon.docker("run", "--rm", "-u", "evil", image, "id", "-u").stdout == \
            "1234\n"
        daemon.docker("run", "-d", "--name", name, image, "sleep", "60")
        assert daemon.docker("exec", "-u", "evil", name, "id", "-u").stdout == "1234\n"
    finally:
        daemon.docker("rm", "-f", name, check=False)
        daemon.docker("rmi", image, check=False)
    assert (host_dir / "passwd").read_bytes() == HOST_PASSWD
