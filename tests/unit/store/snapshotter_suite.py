"""The conformance suite every Snapshotter passes (containerd ``snapshots/testsuite``).

Tests that only need the metadata and directories live here; ``tests/integration/store``
adds real mounts. ``snapshotter`` fixtures are parametrized over the implementations.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from berth.errors import Conflict, InvalidArgument, NotFound
from berth.store.snapshots import Kind
from berth.store.snapshots.native import NativeSnapshotter
from berth.store.snapshots.overlay import OverlaySnapshotter

IMPLEMENTATIONS = {"overlay": OverlaySnapshotter, "native": NativeSnapshotter}


def make_snapshotter(name: str, root: Path):
    return IMPLEMENTATIONS[name](root)


def commit_layer(sn, name: str, parent: str | None, files: dict[str, bytes]) -> None:
    key = f"extract-{name}"
    sn.prepare(key, parent)
    path = Path(sn.writable_path(key))
    for rel, data in files.items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_bytes(data)
    sn.commit(name, key)


class SnapshotterSuite:
    def test_prepare_commit_stat(self, snapshotter):
        commit_layer(snapshotter, "base", None, {"a": b"a"})
        info = snapshotter.stat("base")
        assert (info.key, info.kind, info.parent) == ("base", Kind.COMMITTED, None)
        with pytest.raises(NotFound):
            snapshotter.stat("extract-base")
        snapshotter.prepare("c1", "base")
        assert snapshotter.stat("c1").kind is Kind.ACTIVE
        assert snapshotter.stat("c1").parent == "base"
        snapshotter.view("v1", "base")
        assert snapshotter.stat("v1").kind is Kind.VIEW

    def test_errors(self, snapshotter):
        with pytest.raises(NotFound):
            snapshotter.prepare("c", "missing")
        snapshotter.prepare("active", None)
        with pytest.raises(Conflict):
            snapshotter.prepare("active", None)
        with pytest.raises(InvalidArgument):
            snapshotter.prepare("c", "active")
        with pytest.raises(NotFound):
            snapshotter.remove("missing")
        with pytest.raises(NotFound):
            snapshotter.mounts("missing")

    def test_parent_cannot_be_removed_before_child(self, snapshotter):
        commit_layer(snapshotter, "base", None, {"a": b"a"})
        snapshotter.prepare("c1", "base")
        with pytest.raises(Conflict):
            snapshotter.remove("base")
        snapshotter.remove("c1")
        snapshotter.remove("base")
        with pytest.raises(NotFound):
            snapshotter.stat("base")

    def test_mount_shapes(self, snapshotter):
        mounts = snapshotter.prepare("empty", None)
        assert [m.type for m in mounts] == ["bind"]
        assert "rw" in mounts[0].options
        commit_layer(snapshotter, "l1", None, {"a": b"a"})
        commit_layer(snapshotter, "l2", "l1", {"b": b"b"})
        view = snapshotter.view("v", "l1")
        assert "ro" in view[0].options
        assert snapshotter.mounts("v") == view
        active = snapshotter.prepare("c", "l2")
        assert snapshotter.mounts("c") == active

    def test_usage_counts_own_changes(self, snapshotter):
        commit_layer(snapshotter, "base", None, {"big": b"x" * 100_000})
        assert snapshotter.usage("base") >= 100_000
        snapshotter.prepare("c", "base")
        before = snapshotter.usage("c")
        Path(snapshotter.writable_path("c"), "new").write_bytes(b"y" * 50_000)
        assert snapshotter.usage("c") >= before + 50_000

    def test_cleanup_removes_orphan_dirs_only(self, snapshotter, tmp_path):
        commit_layer(snapshotter, "base", None, {"a": b"a"})
        snapdir = tmp_path / "sn" / "snapshots"
        (snapdir / "999").mkdir()
        (snapdir / "new-dead").mkdir()
        snapshotter.cleanup()
        assert sorted(os.listdir(snapdir)) == ["1"]
        assert snapshotter.stat("base").kind is Kind.COMMITTED

    def test_metadata_survives_reopen(self, snapshotter, snapshotter_name, tmp_path):
        commit_layer(snapshotter, "base", None, {"a": b"a"})
        snapshotter.prepare("c", "base")
        again = make_snapshotter(snapshotter_name, tmp_path / "sn")
        assert again.stat("c").parent == "base"
        assert again.mounts("c") == snapshotter.mounts("c")

    def test_commit_puts_a_parentless_layer_on_a_parent(self, snapshotter):
        commit_layer(snapshotter, "base", None, {"a": b"a"})
        snapshotter.prepare("side", None)
        (Path(snapshotter.writable_path("side")) / "b").write_bytes(b"b")
        if not snapshotter.changes_only:  # a native snapshot is a whole tree
            with pytest.raises(InvalidArgument):
                snapshotter.commit("top", "side", parent="base")
            return
        with pytest.raises(NotFound):
            snapshotter.commit("top", "side", parent="missing")
        snapshotter.prepare("active", None)
        with pytest.raises(InvalidArgument, match="not committed"):
            snapshotter.commit("top", "side", parent="active")
        snapshotter.commit("top", "side", parent="base")
        assert snapshotter.stat("top").parent == "base"
        with pytest.raises(Conflict):
            snapshotter.remove("base")  # it has a child now
        snapshotter.prepare("stacked", "base")
        with pytest.raises(InvalidArgument, match="already has a parent"):
            snapshotter.commit("other", "stacked", parent="top")
