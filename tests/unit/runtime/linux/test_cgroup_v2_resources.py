"""The v2 manager's resource files, written into a temporary directory tree shaped like a
cgroup v2 hierarchy (plain files: this host is cgroup v1/hybrid and has no v2 controllers,
so the real v2 kernel interface cannot be exercised here), and ``features()`` on fake v1
and v2 roots."""

from __future__ import annotations

from pathlib import Path

import pytest

from berth.runtime.linux.cgroups import blkio_weight_to_io_weight, features, open_manager
from berth.runtime.linux.cgroups.v2 import CgroupV2Manager


@pytest.fixture
def v2_root(tmp_path: Path) -> Path:
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    (tmp_path / "cpuset.cpus.effective").write_text("0-3\n")
    (tmp_path / "cpuset.mems.effective").write_text("0\n")
    return tmp_path


def _read(path: Path) -> str:
    return path.read_text().strip()


def test_v2_writes_every_resource_file(v2_root: Path) -> None:
    cg = open_manager("/berth/c1", v2_root)
    assert isinstance(cg, CgroupV2Manager)
    cg.create()
    cg.apply({
        "memory": {"limit": 64 << 20, "swap": 96 << 20, "reservation": 32 << 20},
        "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0-1", "mems": "0"},
        "pids": {"limit": 10},
        "blockIO": {"weight": 500,
                    "weightDevice": [{"major": 8, "minor": 0, "weight": 100}],
                    "throttleReadBpsDevice": [{"major": 8, "minor": 0, "rate": 1048576}],
                    "throttleWriteIOPSDevice": [{"major": 8, "minor": 0, "rate": 10}]},
    })
    d = v2_root / "berth/c1"
    assert _read(d / "memory.max") == str(64 << 20)
    assert _read(d / "memory.swap.max") == str(32 << 20), "v2's swap is swap alone"
    assert _read(d / "memory.low") == str(32 << 20)
    assert _read(d / "cpu.max") == "50000 100000"
    assert _read(d / "cpu.weight") == "20"  # runc's mapping of 512 shares
    assert _read(d / "cpuset.cpus") == "0-1" and _read(d / "cpuset.mems") == "0"
    assert _read(d / "pids.max") == "10"
    # one write per line: the last one is what a plain file keeps
    assert _read(d / "io.weight") == f"8:0 {blkio_weight_to_io_weight(100)}"
    assert _read(d / "io.max") == "8:0 rbps=1048576 wiops=10"


def test_v2_update_to_unlimited(v2_root: Path) -> None:
    cg = open_manager("/berth/c2", v2_root)
    cg.create()
    cg.apply({"memory": {"limit": 64 << 20, "swap": -1}, "pids": {"limit": 0},
              "cpu": {"quota": -1, "period": 100000}})
    d = v2_root / "berth/c2"
    assert _read(d / "memory.swap.max") == "max"
    assert _read(d / "pids.max") == "max"
    assert _read(d / "cpu.max") == "max 100000"


def test_io_weight_mapping() -> None:
    assert blkio_weight_to_io_weight(10) == 1
    assert blkio_weight_to_io_weight(1000) == 10000
    assert blkio_weight_to_io_weight(0) == 0


def test_features_v2(v2_root: Path) -> None:
    f = features(v2_root)
    assert f.version == 2 and f.memory and f.swap and f.pids and f.read_bps_device
    assert not f.swappiness and not f.oom_kill_disable
    assert not f.device_rules, "v2 device rules need eBPF, which berth does not load"
    assert (f.cpus, f.mems) == ("0-3", "0")


def test_features_v1_without_blkio_weight(tmp_path: Path) -> None:
    for name in ("memory/memory.limit_in_bytes", "memory/memory.swappiness",
                 "cpu/cpu.shares", "cpuset/cpuset.cpus", "blkio/blkio.throttle.read_bps_device",
                 "devices/devices.allow"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text("0-1\n" if name.endswith("cpus") else "")
    f = features(tmp_path)
    assert f.version == 1 and f.memory and f.swappiness and not f.swap
    assert f.read_bps_device and not f.write_bps_device
    assert not f.blkio_weight, "no CFQ/BFQ weight file: docker's 'Weight discarded'"
    assert f.cpus == "0-1" and f.device_rules and not f.pids
