"""Cgroup managers: put the container in a cgroup, limit it, freeze it, remove it.

One ``CgroupManager`` protocol, two implementations chosen by the host's layout::

    /sys/fs/cgroup/cgroup.controllers exists  → CgroupV2Manager  /sys/fs/cgroup/<path>
    otherwise (v1 or hybrid)                   → CgroupV1Manager  /sys/fs/cgroup/<ctrl>/<path>

A hybrid host's ``/sys/fs/cgroup/unified`` cgroup2 mount carries no controllers we use, so
it is ignored, as runc does. ``cgroupsPath`` is always taken below the hierarchy root.
"""

from __future__ import annotations

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

    def destroy(self) -> None:
        """Kill what is left inside and remove the cgroup. Idempotent."""
        ...


def is_unified(root: Path = DEFAULT_ROOT) -> bool:
    return (root / "cgroup.controllers").exists()


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


def memory_swap_v2(limit: int | None, swap: int) -> str:
    """OCI ``swap`` is memory+swap (v1 memsw); v2's memory.swap.max is swap alone."""
    if swap == -1:
        return "max"
    if limit is None or limit <= 0:
        raise ValueError("memory swap set without a memory limit")
    if swap < limit:
        raise ValueError("memory+swap limit must be at least the memory limit")
    return str(swap - limit)
