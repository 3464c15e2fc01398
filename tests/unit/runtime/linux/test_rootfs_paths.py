"""Path resolution and mount option parsing (no root)."""

from __future__ import annotations

import pytest

from berth.runtime.linux import syscalls as sc
from berth.runtime.linux.rootfs import parse_options
from berth.runtime.linux.securejoin import secure_join


@pytest.fixture
def root(tmp_path):
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    (r / "real").mkdir()
    (r / "abs").symlink_to("/etc")
    (r / "rel").symlink_to("../../../real")
    (r / "escape").symlink_to("/../../../../tmp")
    (r / "loop").symlink_to("loop")
    (r / "etc/hostname").symlink_to("/etc/passwd")
    return r


@pytest.mark.parametrize(("unsafe", "expected"), [
    ("/etc", "etc"),
    ("/abs/hosts", "etc/hosts"),            # absolute link restarts at the rootfs
    ("/rel/x", "real/x"),                   # .. cannot climb above the rootfs
    ("/escape/f", "tmp/f"),
    ("/../../..", ""),
    ("/etc/hostname", "etc/passwd"),
    ("/new/dir/./deep", "new/dir/deep"),    # missing components are taken literally
])
def test_secure_join_stays_inside(root, unsafe, expected):
    assert secure_join(str(root), unsafe) == str(root / expected).rstrip("/")


def test_secure_join_symlink_loop(root):
    with pytest.raises(OSError):
        secure_join(str(root), "/loop/x")


def test_parse_options():
    opts = parse_options(["nosuid", "noexec", "rbind", "ro", "rprivate", "mode=755",
                          "size=65536k"])
    assert opts.flags == sc.MS_NOSUID | sc.MS_NOEXEC | sc.MS_BIND | sc.MS_REC | sc.MS_RDONLY
    assert opts.propagation == [sc.MS_PRIVATE | sc.MS_REC]
    assert opts.data == "mode=755,size=65536k"


def test_parse_options_later_wins():
    assert parse_options(["ro", "rw"]).flags == 0
    assert parse_options(["rw", "ro"]).flags == sc.MS_RDONLY
