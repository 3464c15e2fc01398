import pytest
from snapshotter_suite import IMPLEMENTATIONS, SnapshotterSuite, commit_layer, make_snapshotter


@pytest.fixture(params=sorted(IMPLEMENTATIONS))
def snapshotter_name(request):
    return request.param


@pytest.fixture
def snapshotter(snapshotter_name, tmp_path):
    return make_snapshotter(snapshotter_name, tmp_path / "sn")


class TestConformance(SnapshotterSuite):
    pass


def test_overlay_mounts_stack_parents_nearest_first(tmp_path):
    sn = make_snapshotter("overlay", tmp_path / "sn")
    commit_layer(sn, "l1", None, {"a": b"a"})
    commit_layer(sn, "l2", "l1", {"b": b"b"})
    (mount,) = sn.prepare("c", "l2")
    base = tmp_path / "sn" / "snapshots"
    assert mount.type == "overlay"
    assert mount.options == (f"lowerdir={base}/2/fs:{base}/1/fs", f"upperdir={base}/3/fs",
                             f"workdir={base}/3/work")
    (view,) = sn.view("v", "l2")
    assert view.options == (f"lowerdir={base}/2/fs:{base}/1/fs",)
    (single,) = sn.view("v1", "l1")
    assert (single.type, single.source, single.options) == ("bind", f"{base}/1/fs",
                                                           ("rbind", "ro"))


def test_native_copies_are_independent(tmp_path):
    sn = make_snapshotter("native", tmp_path / "sn")
    commit_layer(sn, "base", None, {"f": b"base"})
    sn.prepare("c", "base")
    path = tmp_path / "sn" / "snapshots"
    (path / "2/fs/f").write_bytes(b"changed")
    assert (path / "1/fs/f").read_bytes() == b"base"
