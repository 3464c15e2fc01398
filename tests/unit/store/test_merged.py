"""The merged tree of overlay layer directories, read without mounting."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from berth.oci.mount import Mount
from berth.store.diff import OVERLAY_OPAQUE_XATTR
from berth.store.merged import layer_dirs, walk


def test_layer_dirs_from_mounts() -> None:
    overlay = Mount("overlay", "overlay", ("lowerdir=/l1:/l2", "upperdir=/u", "workdir=/w"))
    assert layer_dirs([overlay]) == (["/u", "/l1", "/l2"], True)
    assert layer_dirs([Mount("bind", "/fs", ("rbind", "rw"))]) == (["/fs"], False)


def test_upper_layers_win_and_directories_merge(tmp_path: Path) -> None:
    upper, lower = tmp_path / "u", tmp_path / "l"
    for path, text in [(lower / "a", "old"), (lower / "d/x", "x"), (upper / "a", "new"),
                       (upper / "d/y", "y"), (lower / "f/z", "z")]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (upper / "f").write_text("a file hides the lower directory")
    tree = dict(walk([str(upper), str(lower)], overlay=True))
    assert sorted(tree) == ["a", "d", "d/x", "d/y", "f"]
    assert tree["a"] == str(upper / "a") and tree["d/x"] == str(lower / "d/x")


@pytest.mark.skipif(os.geteuid() != 0, reason="whiteouts and trusted xattrs need root")
def test_whiteouts_and_opaque_directories(tmp_path: Path) -> None:
    upper, lower = tmp_path / "u", tmp_path / "l"
    for path in (lower / "gone", lower / "o/old", lower / "keep"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("")
    (upper / "o").mkdir(parents=True)
    (upper / "o/new").write_text("")
    os.setxattr(upper / "o", OVERLAY_OPAQUE_XATTR, b"y")
    os.mknod(upper / "gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    assert sorted(dict(walk([str(upper), str(lower)], overlay=True))) == ["keep", "o", "o/new"]
