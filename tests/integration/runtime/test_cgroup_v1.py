"""CgroupV1Manager on the host's real v1 hierarchies."""

from __future__ import annotations

import os
import signal
import subprocess
import uuid
from pathlib import Path

import pytest

from berth.runtime.linux.cgroups import open_manager
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


def test_lifecycle_limits_freeze_and_destroy(cgroup):
    cgroup.create()
    cgroup.apply({"memory": {"limit": 64 << 20, "swap": 128 << 20, "reservation": 32 << 20},
                  "cpu": {"shares": 512, "quota": 50000, "period": 100000, "cpus": "0"},
                  "pids": {"limit": 50}})
    base = ROOT / "{}" / cgroup.cgroups_path
    assert (Path(str(base).format("memory")) / "memory.limit_in_bytes").read_text() == \
        f"{64 << 20}\n"
    assert (Path(str(base).format("memory")) / "memory.memsw.limit_in_bytes").read_text() == \
        f"{128 << 20}\n"
    assert (Path(str(base).format("cpu")) / "cpu.cfs_quota_us").read_text() == "50000\n"
    assert (Path(str(base).format("pids")) / "pids.max").read_text() == "50\n"
    assert cgroup.stats().memory_limit == 64 << 20

    # Lowering memory below the current memsw needs the other write order.
    cgroup.apply({"memory": {"limit": 16 << 20, "swap": 16 << 20}})
    assert cgroup.stats().memory_limit == 16 << 20

    child = subprocess.Popen(["sleep", "60"])
    try:
        cgroup.add_process(child.pid)
        assert cgroup.pids() == [child.pid]
        cgroup.freeze()
        assert (Path(str(base).format("freezer")) / "freezer.state").read_text() == "FROZEN\n"
        cgroup.thaw()
        cgroup.destroy()  # kills the sleep, then removes every hierarchy's directory
        assert child.wait(timeout=5) == -signal.SIGKILL
        assert not cgroup.exists()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    cgroup.destroy()  # idempotent


def test_add_process_zero_moves_the_caller(cgroup):
    cgroup.create()
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - child
        try:
            cgroup.add_process(0)
            os.write(ready_w, b"ok")
            os.read(go_r, 1)  # parked until the parent has looked
        finally:
            os._exit(0)
    try:
        assert os.read(ready_r, 2) == b"ok"
        assert cgroup.pids() == [pid]
    finally:
        os.write(go_w, b"x")
        os.waitpid(pid, 0)
        for fd in (ready_r, ready_w, go_r, go_w):
            os.close(fd)
