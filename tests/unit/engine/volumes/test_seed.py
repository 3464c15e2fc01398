"""Seeding a new volume from the root's merged view (docker's copyExistingContents)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from berth.engine.volumes.seed import is_empty, seed
from berth.store.rootview import LayerTree


def _layers(tmp_path: Path) -> LayerTree:
    lower, upper = tmp_path / "lower", tmp_path / "upper"
    (lower / "srv" / "sub").mkdir(parents=True)
    (lower / "srv" / "a").write_text("lower a\n")
    (lower / "srv" / "gone").write_text("whited out\n")
    (lower / "srv" / "sub" / "deep").write_text("deep\n")
    os.chmod(lower / "srv", 0o750)
    (upper / "srv").mkdir(parents=True)
    (upper / "srv" / "a").write_text("upper a\n")
    (upper / "srv" / ".wh.gone").write_text("")
    os.symlink("/etc/passwd", upper / "srv" / "link")
    os.chmod(upper / "srv" / "a", 0o600)
    os.chmod(upper / "srv", 0o710)  # the topmost layer's directory is the merged one
    os.symlink("/srv", upper / "alias")  # a link at the target, resolved in the root
    os.symlink("/nonexistent", upper / "dangling")
    return LayerTree([upper, lower])


def test_the_merged_directory_is_copied_with_modes_and_links(tmp_path: Path) -> None:
    root = _layers(tmp_path)
    dest = tmp_path / "vol"
    dest.mkdir()
    assert is_empty(str(dest))
    assert seed(root, "/alias", str(dest))
    assert sorted(os.listdir(dest)) == ["a", "link", "sub"]
    assert (dest / "a").read_text() == "upper a\n"
    assert stat.S_IMODE(os.stat(dest / "a").st_mode) == 0o600
    assert os.readlink(dest / "link") == "/etc/passwd"  # copied, never followed
    assert (dest / "sub" / "deep").read_text() == "deep\n"
    assert stat.S_IMODE(os.stat(dest).st_mode) == 0o710  # the directory's own mode
    assert not is_empty(str(dest))


def test_nothing_is_copied_where_the_root_has_no_directory(tmp_path: Path) -> None:
    root = _layers(tmp_path)
    dest = tmp_path / "vol"
    dest.mkdir()
    assert not seed(root, "/missing", str(dest))
    assert not seed(root, "/srv/a", str(dest))  # a file
    assert not seed(root, "/dangling", str(dest))
    assert is_empty(str(dest))
