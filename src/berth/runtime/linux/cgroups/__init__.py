"""Cgroup managers: put the container in a cgroup, limit it, freeze it, remove it.

One ``CgroupManager`` protocol, two implementations chosen by the host's layout::

    /sys/fs/cgroup/cgroup.controllers exists  → CgroupV2Manager  /sys/fs/cgroup/<path>
    otherwise (v1 or hybrid)                   → CgroupV1Manager  /sys/fs/cgroup/<ctrl>/<path>

A hybrid host's ``/sys/fs/cgroup/unified`` cgroup2 mount carries no controllers we use, so
it is ignored, as runc does. ``cgroupsPath`` is always taken below the hierarchy root.

``features()`` says what the host's layout can limit (moby's ``sysinfo``): the engine checks
a create or update against it, as docker warns about or refuses what the kernel lacks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from berth.oci import spec as oci

DEFAULT_ROOT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class CgroupStats:
    memory_usage: int  # bytes, current
    memory_limit: int | None  # None when unlimited
    pids_current: int


class CgroupManager(Protocol):
    cgroups_path: str

    def create(self) -> None:
        """Make the cgroup (and, on v2, enable controllers in its ancestors)."""
        ...

    def add_process(self, pid: int) -> None:
        """Move ``pid`` in; 0 means the calling process (written as "0")."""
        ...

    def apply(self, resources: oci.Resources) -> None: ...

    def freeze(self) -> None: ...

    def thaw(self) -> None: ...

    def pids(self) -> list[int]: ...

    def oom_kill_count(self) -> int: ...

    def stats(self) -> CgroupStats: ...

    def exists(self) -> bool: ...

    def release(self) -> None:
        """Remove this cgroup if it is empty (no tasks, no children); otherwise leave it.
        For a parent such as berthd's ``--cgroup-parent``, whose containers outlive it."""
        ...

    def destroy(self) -> None:
        """Kill what is left inside and remove the cgroup. Idempotent."""
        ...


@dataclass(frozen=True)
class CgroupFeatures:
    """What the host's cgroups can limit (moby's ``sysinfo.SysInfo``, cgroup part)."""

    version: int = 1
    memory: bool = True
    swap: bool = True  # memory+swap limits (v1 memory.memsw.*, v2 memory.swap.max)
    swappiness: bool = True  # v1 only
    oom_kill_disable: bool = True  # v1 only (memory.oom_control)
    cpu_shares: bool = True
    cpu_cfs: bool = True
    cpuset: bool = True
    cpus: str = ""  # the CPUs and memory nodes a container may ask for ("0-3")
    mems: str = ""
    pids: bool = True
    blkio_weight: bool = True
    blkio_weight_device: bool = True
    read_bps_device: bool = True
    write_bps_device: bool = True
    read_iops_device: bool = True
    write_iops_device: bool = True
    device_rules: bool = True  # v1 devices.allow/deny; v2 needs eBPF (not done)


def features(root: Path = DEFAULT_ROOT) -> CgroupFeatures:
    """What this host's cgroups under ``root`` can limit."""
    if is_unified(root):
        return _features_v2(root)
    return _features_v1(root)


def _read_or_empty(path: Path) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def _features_v1(root: Path) -> CgroupFeatures:
    def has(controller: str, name: str) -> bool:
        return (root / controller / name).exists()

    return CgroupFeatures(
        version=1, memory=has("memory", "memory.limit_in_bytes"),
        swap=has("memory", "memory.memsw.limit_in_bytes"),
        swappiness=has("memory", "memory.swappiness"),
        oom_kill_disable=has("memory", "memory.oom_control"),
        cpu_shares=has("cpu", "cpu.shares"), cpu_cfs=has("cpu", "cpu.cfs_quota_us"),
        cpuset=has("cpuset", "cpuset.cpus"),
        cpus=_read_or_empty(root / "cpuset" / "cpuset.effective_cpus")
        or _read_or_empty(root / "cpuset" / "cpuset.cpus"),
        mems=_read_or_empty(root / "cpuset" / "cpuset.effective_mems")
        or _read_or_empty(root / "cpuset" / "cpuset.mems"),
        pids=(root / "pids").is_dir(),
        blkio_weight=has("blkio", "blkio.weight") or has("blkio", "blkio.bfq.weight"),
        blkio_weight_device=has("blkio", "blkio.weight_device")
        or has("blkio", "blkio.bfq.weight_device"),
        read_bps_device=has("blkio", "blkio.throttle.read_bps_device"),
        write_bps_device=has("blkio", "blkio.throttle.write_bps_device"),
        read_iops_device=has("blkio", "blkio.throttle.read_iops_device"),
        write_iops_device=has("blkio", "blkio.throttle.write_iops_device"),
        device_rules=has("devices", "devices.allow"),
    )


def _features_v2(root: Path) -> CgroupFeatures:
    controllers = set(_read_or_empty(root / "cgroup.controllers").split())
    memory, io, cpu = "memory" in controllers, "io" in controllers, "cpu" in controllers
    return CgroupFeatures(
        version=2, memory=memory, swap=memory, swappiness=False, oom_kill_disable=False,
        cpu_shares=cpu, cpu_cfs=cpu, cpuset="cpuset" in controllers,
        cpus=_read_or_empty(root / "cpuset.cpus.effective"),
        mems=_read_or_empty(root / "cpuset.mems.effective"),
        pids="pids" in controllers,
        blkio_weight=io, blkio_weight_device=io, read_bps_device=io, write_bps_device=io,
        read_iops_device=io, write_iops_device=io, device_rules=False)


def is_unified(root: Path = DEFAULT_ROOT) -> bool:
    return (root / "cgroup.controllers").exists()


def prime_migration(root: Path = DEFAULT_ROOT,
                    membership: Path = Path("/proc/self/cgroup")) -> None:
    """Move the calling process into the cgroup it is already in: a no-op for the process
    that takes the kernel's global migration lock (cgroup_threadgroup_rwsem) for writing.

    Why: since Linux 6.0, unless the hierarchy is mounted with ``favordynmods``, the first
    migration after an idle spell waits a whole RCU grace period (10-15 ms measured on a
    2-core VM) to move that lock to its writer mode, and the kernel leaves it there for
    one more grace period after each migration. A container start migrates exactly once,
    when its init joins its cgroup; a caller that knows such a join is a few ms away (the
    zygote, right after forking a shim) calls this first, so the wait overlaps the shim's
    set-up instead of the container's start. Best effort: on older kernels it is a cheap
    no-op, and any failure only costs the latency it tried to hide."""
    try:
        with open(membership) as f:
            lines = f.read().splitlines()
    except OSError:
        return
    unified = is_unified(root)
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if unified != (controllers == "") or controllers.startswith("name="):
            continue
        procs = root / controllers / path.lstrip("/") / "cgroup.procs"
        try:
            fd = os.open(procs, os.O_WRONLY | os.O_CLOEXEC)
        except OSError:
            continue  # not mounted under root by that name
        try:
            os.write(fd, b"0")  # 0: the writer itself
            return
        except OSError:
            continue
        finally:
            os.close(fd)


def open_manager(cgroups_path: str, root: Path = DEFAULT_ROOT) -> CgroupManager:
    """The manager for this host's layout under ``root``."""
    from berth.runtime.linux.cgroups.v1 import CgroupV1Manager
    from berth.runtime.linux.cgroups.v2 import CgroupV2Manager

    if is_unified(root):
        return CgroupV2Manager(cgroups_path, root)
    return CgroupV1Manager(cgroups_path, root)


def cpu_shares_to_weight(shares: int) -> int:
    """runc's mapping of v1 shares [2, 262144] onto v2 weight [1, 10000]."""
    if shares == 0:
        return 0
    return 1 + ((shares - 2) * 9999) // 262142


def blkio_weight_to_io_weight(weight: int) -> int:
    """runc's mapping of v1 blkio weight [10, 1000] onto v2 io.weight [1, 10000]."""
    if weight == 0:
        return 0
    return 1 + (weight - 10) * 9999 // 990


def memory_swap_v2(limit: int | None, swap: int) -> str:
    """OCI ``swap`` is memory+swap (v1 memsw); v2's memory.swap.max is swap alone."""
    if swap == -1:
        return "max"
    if limit is None or limit <= 0:
        raise ValueError("memory swap set without a memory limit")
    if swap < limit:
        raise ValueError("memory+swap limit must be at least the memory limit")
    return str(swap - limit)
