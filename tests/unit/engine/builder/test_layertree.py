"""The merged view over layer directories: whiteouts, opaque dirs, symlinks in the root."""

from __future__ import annotations

import os
import stat

import pytest
from tests.trees import write

from berth.engine.builder.layertree import LayerTree

needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="whiteout devices and trusted "
                                "xattrs need root")


@pytest.fixture
def layers(tmp_path):
    bottom, middle, top = (tmp_path / n for n in ("bottom", "middle", "top"))
    for d in (bottom, middle, top):
        d.mkdir()
    write(bottom, "etc/passwd", b"root:x:0:0::/root:/bin/sh\n")
    write(bottom, "etc/hosts", b"old")
    write(bottom, "opt/a", b"a")
    write(bottom, "opt/b", b"b")
    write(bottom, "gone/file")
    write(middle, "etc/hosts", b"new")
    write(middle, "etc/.wh.passwd", b"")
    write(top, "opt/c", b"c")
    return top, middle, bottom


def test_upper_wins_and_directories_merge(layers):
    tree = LayerTree(list(layers))
    with tree.open("etc/hosts") as f:
        assert f.read() == b"new"
    assert tree.listdir("opt") == ["a", "b", "c"]
    assert tree.listdir("") == ["etc", "gone", "opt"]


def test_oci_whiteout_file_hides_lower_entry(layers):
    tree = LayerTree(list(layers))
    assert not tree.exists("etc/passwd")
    assert tree.listdir("etc") == ["hosts"]
    with pytest.raises(FileNotFoundError):
        tree.open("etc/passwd")


def test_without_whiteouts_markers_are_plain_files(layers):
    tree = LayerTree([layers[1]], whiteouts=False)
    assert tree.listdir("etc") == [".wh.passwd", "hosts"]


def test_oci_opaque_marker_hides_lower_contents(layers):
    top, _middle, _bottom = layers
    write(top, "opt/.wh..wh..opq", b"")
    tree = LayerTree(list(layers))
    assert tree.listdir("opt") == ["c"]
    assert not tree.exists("opt/a")


@needs_root
def test_overlay_char_device_whiteout(layers):
    top, _middle, _bottom = layers
    os.mknod(top / "gone", stat.S_IFCHR | 0o600, os.makedev(0, 0))
    tree = LayerTree(list(layers))
    assert not tree.exists("gone") and not tree.exists("gone/file")
    assert "gone" not in tree.listdir("")


@needs_root
def test_overlay_opaque_xattr(layers):
    top, _middle, _bottom = layers
    os.setxattr(top / "opt", "trusted.overlay.opaque", b"y")
    tree = LayerTree(list(layers))
    assert tree.listdir("opt") == ["c"]


def test_file_in_upper_hides_lower_directory(layers):
    top, _middle, _bottom = layers
    write(top, "gone", b"now a file")
    tree = LayerTree(list(layers))
    assert stat.S_ISREG(tree.lstat("gone").st_mode)
    assert not tree.exists("gone/file")


def test_symlinks_resolve_inside_the_root(tmp_path):
    layer = tmp_path / "l"
    write(layer, "usr/bin/sh", b"shell")
    os.symlink("usr/bin", layer / "bin")
    os.symlink("/../../../../usr/bin/sh", layer / "escape")
    os.symlink("loop2", layer / "loop1")
    os.symlink("loop1", layer / "loop2")
    tree = LayerTree([layer])
    assert tree.resolve("bin/sh") == "usr/bin/sh"
    assert tree.resolve("bin", follow_final=False) == "bin"
    assert tree.resolve("escape") == "usr/bin/sh"
    with tree.open("bin/sh") as f:
        assert f.read() == b"shell"
    assert tree.readlink("bin") == "usr/bin"
    with pytest.raises(OSError):
        tree.resolve("loop1")


def test_symlink_in_an_upper_layer_over_a_lower_directory(tmp_path):
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    write(lower, "data/x", b"lower")
    write(lower, "real/x", b"real")
    upper.mkdir()
    os.symlink("/real", upper / "data")
    tree = LayerTree([upper, lower])
    with tree.open("data/x") as f:
        assert f.read() == b"real"


def test_empty_stack_is_an_empty_root():
    tree = LayerTree([])
    assert stat.S_ISDIR(tree.lstat("").st_mode)
    assert tree.listdir("") == []
    assert not tree.exists("etc/passwd")


def test_walk_lists_parents_first(layers):
    tree = LayerTree(list(layers))
    assert tree.walk("opt") == ["a", "b", "c"]
    assert tree.walk("") == ["etc", "etc/hosts", "gone", "gone/file", "opt", "opt/a",
                             "opt/b", "opt/c"]
