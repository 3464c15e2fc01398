"""The user lookup and WORKDIR creation before a container starts, on its unmounted
rootfs: both through the root view, so an image's links stay inside the image."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tests.trees import write

from berth.engine.containers import process
from berth.errors import RuntimeFailure
from berth.store.rootview import LayerTree

PASSWD = b"root:x:0:0::/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n"
GROUP = b"root:x:0:\nstaff:x:50:app\n"


@pytest.fixture
def rootfs(tmp_path: Path) -> LayerTree:
    upper, lower = tmp_path / "upper", tmp_path / "lower"
    upper.mkdir()
    write(lower, "etc/passwd", PASSWD)
    write(lower, "etc/group", GROUP)
    return LayerTree([upper, lower], writable=True)


def test_resolve_user_by_name_and_group(rootfs: LayerTree) -> None:
    assert process.resolve_user("app", rootfs) == (1000, 1000, (50,))
    assert process.resolve_user("app:staff", rootfs) == (1000, 50, ())
    assert process.resolve_user("4321", rootfs) == (4321, 0, ())
    with pytest.raises(RuntimeFailure, match="unable to find user nobody"):
        process.resolve_user("nobody", rootfs)


def test_resolve_user_reads_a_linked_etc_inside_the_rootfs(rootfs: LayerTree,
                                                          tmp_path: Path) -> None:
    host = tmp_path / "host"
    write(host, "passwd", b"evil:x:4242:4242::/:/bin/sh\n")
    upper = rootfs.dirs[0]
    os.symlink(str(host), upper / "etc")  # /etc -> a path that exists on the host
    with pytest.raises(RuntimeFailure, match="unable to find user evil"):
        process.resolve_user("evil", rootfs)
    write(rootfs.dirs[1], f"{str(host).lstrip('/')}/passwd", b"evil:x:1234:1234::/:/bin/sh\n")
    assert process.resolve_user("evil", rootfs) == (1234, 1234, ())


def test_make_workdir_through_a_link_and_over_a_file(rootfs: LayerTree,
                                                     tmp_path: Path) -> None:
    host = tmp_path / "host"
    host.mkdir()
    os.symlink(str(host), rootfs.dirs[0] / "app")
    process.make_workdir(rootfs, "/app/x")
    assert (rootfs.dirs[0] / str(host).lstrip("/") / "x").is_dir()
    assert list(host.iterdir()) == []
    with pytest.raises(RuntimeFailure, match="Cannot mkdir: /etc/passwd is not a directory"):
        process.make_workdir(rootfs, "/etc/passwd")


@pytest.mark.parametrize("message,code", [
    ('exec: "nope": executable file not found in $PATH', 127),
    ("open /x: no such file or directory", 127),
    ('exec: "/etc": is a directory', 126),
    ("exec: /bin/x: permission denied", 126),
    ("cgroup: no space left on device", 128),
])
def test_a_start_failure_gets_dockers_exit_code(message: str, code: int) -> None:
    assert process.start_failure_code(message) == code
