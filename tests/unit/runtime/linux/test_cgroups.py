"""Both cgroup managers against fake cgroupfs trees made of plain files (no root)."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.runtime.linux.cgroups import (
    cpu_shares_to_weight,
    memory_swap_v2,
    open_manager,
    prime_migration,
)
from berth.runtime.linux.cgroups.v1 import CgroupV1Manager
from berth.runtime.linux.cgroups.v2 import CgroupV2Manager

V1_CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "devices")


@pytest.fixture
def v1_root(tmp_path: Path) -> Path:
    for name in V1_CONTROLLERS:
        (tmp_path / name).mkdir()
        (tmp_path / name / "cgroup.procs").write_text("")
    (tmp_path / "cpuset/cpuset.cpus").write_text("0-3\n")
    (tmp_path / "cpuset/cpuset.mems").write_text("0\n")
    (tmp_path / "systemd").mkdir()  # a named hierarchy: never touched
    (tmp_path / "unified").mkdir()  # the hybrid's cgroup2 mount: ignored
    (tmp_path / "unified/cgroup.controllers").write_text("")
    return tmp_path


@pytest.fixture
def v2_root(tmp_path: Path) -> Path:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    return tmp_path


def _read(path: Path) -> str:
    return path.read_text().strip()


def test_layout_detection(v1_root, v2_root, tmp_path):
    assert isinstance(open_manager("/a/b", v2_root), CgroupV2Manager)
    v1 = tmp_path / "v1"
    v1.mkdir()
    assert isinstance(open_manager("/a/b", v1), CgroupV1Manager)


def test_v1_create_makes_every_hierarchy_and_inherits_cpuset(v1_root):
    cg = open_manager("/berth/c1", v1_root)
    cg.create()
    for name in V1_CONTROLLERS:
        assert (v1_root / name / "berth/c1").is_dir()
    assert not (v1_root / "systemd/berth").exists()
    assert not (v1_root / "unified/berth").exists()
    # Both new levels got the parent's cpus/mems, or the kernel would refuse tasks.
    assert _read(v1_root / "cpuset/berth/cpuset.cpus") == "0-3"
    assert _read(v1_root / "cpuset/berth/c1/cpuset.mems") == "0"
    assert cg.exists()


def test_v1_apply(v1_root):
    cg = open_manager("berth/c1", v1_root)
    cg.create()
    cg.apply({
        "memory": {"limit": 1 << 20, "reservation": 1 << 19, "swappiness": 0},
        "cpu": {"shares": 512, "quota": 20000, "period": 100000, "cpus": "1", "mems": "0"},
        "pids": {"limit": 0},
        "devices": [{"allow": False, "access": "rwm"},
                    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"}],
    })
    d = v1_root
    assert _read(d / "memory/berth/c1/memory.limit_in_bytes") == str(1 << 20)
    assert _read(d / "memory/berth/c1/memory.soft_limit_in_bytes") == str(1 << 19)
    assert _read(d / "cpu/berth/c1/cpu.shares") == "512"
    assert _read(d / "cpu/berth/c1/cpu.cfs_quota_us") == "20000"
    assert _read(d / "cpu/berth/c1/cpu.cfs_period_us") == "100000"
    assert _read(d / "cpuset/berth/c1/cpuset.cpus") == "1"
    assert _read(d / "pids/berth/c1/pids.max") == "max"
    # The last rule written wins in a plain file; the kernel appends, which is the point.
    assert _read(d / "devices/berth/c1/devices.allow") == "c 1:3 rwm"
    assert _read(d / "devices/berth/c1/devices.deny") == "a"
    assert cg.stats().memory_limit == 1 << 20


def test_v1_memsw_written_only_when_the_kernel_has_it(v1_root):
    cg = open_manager("c", v1_root)
    cg.create()
    cg.apply({"memory": {"limit": 100, "swap": 200}})
    assert not (v1_root / "memory/c/memory.memsw.limit_in_bytes").exists()
    (v1_root / "memory/c/memory.memsw.limit_in_bytes").write_text("")
    cg.apply({"memory": {"limit": 100, "swap": 200}})
    assert _read(v1_root / "memory/c/memory.memsw.limit_in_bytes") == "200"


def test_v1_freeze_pids_oom_and_add_process(v1_root):
    cg = open_manager("c", v1_root)
    cg.create()
    cg.add_process(0)
    assert _read(v1_root / "memory/c/cgroup.procs") == "0"
    assert _read(v1_root / "freezer/c/cgroup.procs") == "0"
    cg.freeze()
    assert _read(v1_root / "freezer/c/freezer.state") == "FROZEN"
    cg.thaw()
    assert _read(v1_root / "freezer/c/freezer.state") == "THAWED"
    (v1_root / "memory/c/memory.oom_control").write_text(
        "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n")
    assert cg.oom_kill_count() == 3
    for name in V1_CONTROLLERS:
        (v1_root / name / "c/cgroup.procs").write_text("")  # no real pid may be signalled
    assert cg.pids() == []


def test_v2_create_enables_controllers_in_ancestors(v2_root):
    cg = open_manager("/berth/c1", v2_root)
    (v2_root / "berth").mkdir()
    (v2_root / "berth/cgroup.controllers").write_text("cpu memory pids\n")
    (v2_root / "berth/cgroup.subtree_control").write_text("")
    cg.create()
    assert (v2_root / "berth/c1").is_dir()
    # Plain files keep only the last "+x" write; the kernel accumulates them.
    assert _read(v2_root / "cgroup.subtree_control") == "+hugetlb"
    assert _read(v2_root / "berth/cgroup.subtree_control") == "+pids"


def test_v2_apply(v2_root):
    cg = open_manager("c", v2_root)
    cg.create()
    cg.apply({"memory": {"limit": 1000, "swap": 3000, "reservation": 500},
              "cpu": {"shares": 1024, "quota": 50000, "period": 100000, "cpus": "0-1"},
              "pids": {"limit": 64}})
    d = v2_root / "c"
    assert _read(d / "memory.max") == "1000"
    assert _read(d / "memory.swap.max") == "2000"
    assert _read(d / "memory.low") == "500"
    assert _read(d / "cpu.weight") == "39"
    assert _read(d / "cpu.max") == "50000 100000"
    assert _read(d / "cpuset.cpus") == "0-1"
    assert _read(d / "pids.max") == "64"
    cg.apply({"cpu": {"quota": -1}, "memory": {"limit": -1, "swap": -1}})
    assert _read(d / "cpu.max") == "max 100000"
    assert _read(d / "memory.max") == "max"
    assert _read(d / "memory.swap.max") == "max"
    assert cg.stats().memory_limit is None


def test_v2_freeze_waits_for_events_and_counts_oom(v2_root):
    cg = open_manager("c", v2_root)
    cg.create()
    (v2_root / "c/cgroup.events").write_text("populated 1\nfrozen 1\n")
    cg.freeze()
    assert _read(v2_root / "c/cgroup.freeze") == "1"
    (v2_root / "c/cgroup.events").write_text("populated 1\nfrozen 0\n")
    cg.thaw()
    (v2_root / "c/memory.events").write_text("low 0\nhigh 0\nmax 5\noom 2\noom_kill 2\n")
    assert cg.oom_kill_count() == 2


@pytest.mark.parametrize("layout", ["v1_root", "v2_root"])
def test_destroy_is_idempotent_and_removes_children(layout, request):
    root = request.getfixturevalue(layout)
    cg = open_manager("/berth/c1", root)
    cg.create()
    cg.apply({"pids": {"limit": 5}})
    for procs in root.rglob("c1/cgroup.procs"):
        procs.write_text("")
    nested = next(root.rglob("c1"))
    (nested / "sub").mkdir()
    cg.destroy()
    assert not cg.exists()
    assert not list(root.rglob("c1"))
    cg.destroy()


def test_unsafe_paths_are_refused(v1_root):
    with pytest.raises(ValueError):
        open_manager("/berth/../../etc", v1_root)
    with pytest.raises(ValueError):
        open_manager("/", v1_root)


@pytest.mark.parametrize(("shares", "weight"), [(2, 1), (1024, 39), (262144, 10000)])
def test_shares_to_weight_matches_runc(shares, weight):
    assert cpu_shares_to_weight(shares) == weight


def test_memory_swap_v2():
    assert memory_swap_v2(100, -1) == "max"
    assert memory_swap_v2(100, 300) == "200"
    with pytest.raises(ValueError):
        memory_swap_v2(None, 300)
    with pytest.raises(ValueError):
        memory_swap_v2(300, 100)


def test_prime_migration_rejoins_own_v1_cgroup(v1_root: Path, tmp_path: Path) -> None:
    membership = tmp_path / "self-cgroup"
    membership.write_text("9:name=systemd:/\n4:memory:/svc/berthd\n1:cpu:/\n0::/\n")
    (v1_root / "memory/svc/berthd").mkdir(parents=True)
    (v1_root / "memory/svc/berthd/cgroup.procs").write_text("")
    prime_migration(v1_root, membership)
    assert _read(v1_root / "memory/svc/berthd/cgroup.procs") == "0"
    assert _read(v1_root / "cpu/cgroup.procs") == ""  # one write is enough


def test_prime_migration_v2_and_missing_paths(v2_root: Path, tmp_path: Path) -> None:
    membership = tmp_path / "self-cgroup"
    membership.write_text("0::/gone\n")
    prime_migration(v2_root, membership)  # nothing to write to: no error
    membership.write_text("0::/svc\n")
    (v2_root / "svc").mkdir()
    (v2_root / "svc/cgroup.procs").write_text("")
    prime_migration(v2_root, membership)
    assert _read(v2_root / "svc/cgroup.procs") == "0"
