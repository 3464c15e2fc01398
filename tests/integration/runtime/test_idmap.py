"""Idmapped overlay layers (runtime/idmap.py) on the real kernel: through the mount the
layers' uid 0 files are the mapped root's, and what the mapped root writes lands on disk
as uid 0 (a new file and a copy-up). Run in a child with its own mount namespace."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.oci.mount import Mount
from berth.runtime import idmap
from berth.runtime.linux import syscalls

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="needs root")

HOST_ROOT = 231072


def _in_child(body: object) -> int:
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            syscalls.unshare(syscalls.CLONE_NEWNS)
            syscalls.mount("none", "/", "", syscalls.MS_REC | syscalls.MS_PRIVATE)
            body()  # type: ignore[operator]
            code = 0
        finally:
            os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A directory the mapped root can reach (pytest's tmp_path is under a 0700 one)."""
    path = Path(tempfile.mkdtemp(prefix="bidm", dir="/tmp"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path)


def test_idmapped_overlay_keeps_disk_ids(open_dir: Path) -> None:
    tmp_path = open_dir
    if idmap.supported(tmp_path):
        pytest.skip(idmap.supported(tmp_path))
    for d in ("l1", "l2", "s/fs", "s/work", "target"):
        (tmp_path / d).mkdir(parents=True)
    (tmp_path / "l1" / "a").write_text("a")
    (tmp_path / "l2" / "b").write_text("b")
    maps = f"0:{HOST_ROOT}:65536"
    mount = Mount("overlay", "overlay", (
        f"lowerdir={tmp_path}/l1:{tmp_path}/l2", f"upperdir={tmp_path}/s/fs",
        f"workdir={tmp_path}/s/work", f"uidmap={maps}", f"gidmap={maps}"))
    target = tmp_path / "target"

    def body() -> None:
        idmap.mount(mount, str(target), tmp_path / "scratch")
        assert sorted(os.listdir(target)) == ["a", "b"]
        assert os.stat(target / "a").st_uid == HOST_ROOT
        os.setresgid(HOST_ROOT, HOST_ROOT, HOST_ROOT)
        os.setresuid(HOST_ROOT, HOST_ROOT, HOST_ROOT)
        (target / "new").write_text("x")
        with open(target / "b", "a") as f:
            f.write("more")

    assert _in_child(body) == 0
    for name in ("new", "b"):
        st = (tmp_path / "s" / "fs" / name).stat()
        assert (st.st_uid, st.st_gid) == (0, 0)
    assert (tmp_path / "s" / "fs" / "b").read_text() == "bmore"
    assert not (tmp_path / "l2" / "b").read_text().endswith("more")


def test_held_user_namespace_has_the_maps(tmp_path: Path) -> None:
    path = tmp_path / "userns"
    idmap.hold_userns(path, b"0 231072 65536\n", b"0 231072 65536\n")
    try:
        held, own = os.stat(path), os.stat("/proc/self/ns/user")
        assert held.st_dev == own.st_dev and held.st_ino != own.st_ino  # another nsfs file
    finally:
        idmap.release_userns(path)
    assert not path.exists()
