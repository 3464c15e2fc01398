"""The v1 manager's resource files on the host's real v1 hierarchies: swappiness, the OOM
killer switch, cpusets, block I/O throttles, and ``features()`` against the real kernel."""

from __future__ import annotations

import errno
import uuid
from pathlib import Path

import pytest

from berth.runtime.linux.cgroups import features, open_manager
from berth.runtime.linux.cgroups.v1 import CgroupV1Manager

ROOT = Path("/sys/fs/cgroup")


@pytest.fixture
def cgroup():
    if (ROOT / "cgroup.controllers").exists() or not (ROOT / "memory").is_dir():
        pytest.skip("needs a cgroup v1 (or hybrid) host")
    manager = open_manager(f"berth-test-{uuid.uuid4().hex[:10]}")
    assert isinstance(manager, CgroupV1Manager)
    try:
        yield manager
    finally:
        manager.destroy()
        assert not manager.exists()


def _block_device() -> tuple[int, int]:
    """A real disk's major:minor (not a loop or zram device)."""
    for dev in sorted(Path("/sys/block").iterdir()):
        if not dev.name.startswith(("loop", "zram", "ram")):
            major, minor = (dev / "dev").read_text().split(":")
            return int(major), int(minor)
    pytest.skip("no block device")


def _file(cgroup: CgroupV1Manager, controller: str, name: str) -> str:
    return (ROOT / controller / cgroup.cgroups_path / name).read_text().strip()


def test_features_match_the_kernel():
    f = features()
    assert f.version == 1
    assert f.swap == (ROOT / "memory/memory.memsw.limit_in_bytes").exists()
    assert f.read_bps_device == (ROOT / "blkio/blkio.throttle.read_bps_device").exists()
    assert f.cpus == (ROOT / "cpuset/cpuset.effective_cpus").read_text().strip()


def test_memory_knobs_cpuset_and_throttles(cgroup):
    cgroup.create()
    major, minor = _block_device()
    cgroup.apply({
        "memory": {"limit": 32 << 20, "swap": 64 << 20, "reservation": 16 << 20,
                   "swappiness": 7, "disableOOMKiller": True},
        "cpu": {"cpus": "0", "mems": "0"},
        "blockIO": {"throttleReadBpsDevice": [{"major": major, "minor": minor, "rate": 1 << 20}],
                    "throttleWriteIOPSDevice": [{"major": major, "minor": minor, "rate": 30}]},
    })
    assert _file(cgroup, "memory", "memory.swappiness") == "7"
    assert "oom_kill_disable 1" in _file(cgroup, "memory", "memory.oom_control")
    assert _file(cgroup, "memory", "memory.soft_limit_in_bytes") == str(16 << 20)
    assert _file(cgroup, "cpuset", "cpuset.cpus") == "0"
    assert _file(cgroup, "blkio", "blkio.throttle.read_bps_device") == \
        f"{major}:{minor} {1 << 20}"
    assert _file(cgroup, "blkio", "blkio.throttle.write_iops_device") == f"{major}:{minor} 30"


def test_blkio_weight_without_the_kernel_file_is_enotsup(cgroup):
    if features().blkio_weight:
        pytest.skip("this kernel has a blkio weight")
    cgroup.create()
    with pytest.raises(OSError) as err:
        cgroup.apply({"blockIO": {"weight": 300}})
    assert err.value.errno == errno.ENOTSUP
    assert "blkio.weight" in str(err.value)
