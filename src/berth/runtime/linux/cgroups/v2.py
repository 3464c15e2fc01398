"""cgroup v2: one unified hierarchy (runc's ``fs2`` manager)."""

from __future__ import annotations

import errno
import time
from pathlib import Path

from berth.oci import spec as oci
from berth.runtime.linux.cgroups import (
    DEFAULT_ROOT,
    CgroupStats,
    blkio_weight_to_io_weight,
    cpu_shares_to_weight,
    memory_swap_v2,
)
from berth.runtime.linux.cgroups import cgroupfs as fs

# Controllers a container may need; only those the parent offers are enabled.
WANTED_CONTROLLERS = ("cpu", "cpuset", "io", "memory", "pids", "hugetlb")
_FREEZE_TIMEOUT = 2.0


class CgroupV2Manager:
    def __init__(self, cgroups_path: str, root: Path = DEFAULT_ROOT) -> None:
        self.cgroups_path = cgroups_path
        self._root = root
        self.path = root / fs.relative_path(cgroups_path)

    def create(self) -> None:
        # Controllers become available in a cgroup only when every ancestor lists them in
        # cgroup.subtree_control ("no internal processes": we only enable, never add tasks).
        level = self._root
        for part in self.path.relative_to(self._root).parts:
            self._enable_controllers(level)
            level = level / part
            level.mkdir(exist_ok=True)

    def _enable_controllers(self, level: Path) -> None:
        try:
            available = fs.read(level / "cgroup.controllers").split()
            enabled = fs.read(level / "cgroup.subtree_control").split()
        except FileNotFoundError:
            available, enabled = [], []
        for name in WANTED_CONTROLLERS:
            if name in available and name not in enabled:
                fs.write(level / "cgroup.subtree_control", f"+{name}")

    def exists(self) -> bool:
        return self.path.is_dir()

    def add_process(self, pid: int) -> None:
        fs.write(self.path / "cgroup.procs", pid)

    def apply(self, resources: oci.Resources) -> None:
        if "memory" in resources:
            self._apply_memory(resources["memory"])
        if "cpu" in resources:
            self._apply_cpu(resources["cpu"])
        if "pids" in resources:
            limit = resources["pids"]["limit"]
            fs.write(self.path / "pids.max", limit if limit > 0 else "max")
        if "blockIO" in resources:
            self._apply_io(resources["blockIO"])
        # Device rules need an eBPF program on v2, which berth does not load: the engine
        # refuses --device-cgroup-rule on a v2 host (CgroupFeatures.device_rules), and the
        # default rules are not enforced (docs/design/resources.md).

    def _apply_memory(self, mem: oci.MemoryResources) -> None:
        limit = mem.get("limit")
        if limit is not None:
            fs.write(self.path / "memory.max", limit if limit > 0 else "max")
        if "swap" in mem:
            fs.write(self.path / "memory.swap.max", memory_swap_v2(limit, mem["swap"]))
        if "reservation" in mem:
            fs.write(self.path / "memory.low", mem["reservation"])
        if mem.get("disableOOMKiller"):
            raise OSError(errno.ENOTSUP, "disableOOMKiller is not supported on cgroup v2")

    def _apply_cpu(self, cpu: oci.CpuResources) -> None:
        if cpu.get("shares"):
            fs.write(self.path / "cpu.weight", cpu_shares_to_weight(cpu["shares"]))
        if "quota" in cpu or "period" in cpu:
            quota = cpu.get("quota", 0)
            period = cpu.get("period") or 100000
            fs.write(self.path / "cpu.max", f"{quota if quota > 0 else 'max'} {period}")
        if cpu.get("cpus"):
            fs.write(self.path / "cpuset.cpus", cpu["cpus"])
        if cpu.get("mems"):
            fs.write(self.path / "cpuset.mems", cpu["mems"])

    def _apply_io(self, bio: oci.BlockIO) -> None:
        """v1's blkio as v2's io: the weight mapped onto io.weight's range, per-device
        weights as ``MAJ:MIN w`` lines, throttles as one io.max line per device."""
        if bio.get("weight"):
            fs.write(self.path / "io.weight", f"default {blkio_weight_to_io_weight(bio['weight'])}")
        for dev in bio.get("weightDevice", []):
            fs.write(self.path / "io.weight", f"{dev['major']}:{dev['minor']} "
                     f"{blkio_weight_to_io_weight(dev['weight'])}")
        limits: dict[tuple[int, int], list[str]] = {}
        for throttles, key in ((bio.get("throttleReadBpsDevice", []), "rbps"),
                               (bio.get("throttleWriteBpsDevice", []), "wbps"),
                               (bio.get("throttleReadIOPSDevice", []), "riops"),
                               (bio.get("throttleWriteIOPSDevice", []), "wiops")):
            for t in throttles:
                limits.setdefault((t["major"], t["minor"]), []).append(f"{key}={t['rate']}")
        for (major, minor), values in limits.items():
            fs.write(self.path / "io.max", f"{major}:{minor} {' '.join(values)}")

    def freeze(self) -> None:
        self._set_frozen(1)

    def thaw(self) -> None:
        self._set_frozen(0)

    def _set_frozen(self, value: int) -> None:
        fs.write(self.path / "cgroup.freeze", value)
        # cgroup.freeze is a request; cgroup.events reports when every task has stopped.
        deadline = time.monotonic() + _FREEZE_TIMEOUT
        while fs.read_keyed(self.path / "cgroup.events").get("frozen", value) != value:
            if time.monotonic() > deadline:
                raise OSError(errno.EBUSY, "cgroup did not settle", str(self.path))
            time.sleep(0.001)

    def pids(self) -> list[int]:
        return fs.read_pids(self.path / "cgroup.procs")

    def oom_kill_count(self) -> int:
        return fs.read_keyed(self.path / "memory.events").get("oom_kill", 0)

    def stats(self) -> CgroupStats:
        try:
            raw_limit = fs.read(self.path / "memory.max")
        except FileNotFoundError:
            raw_limit = "max"
        return CgroupStats(
            memory_usage=fs.read_int(self.path / "memory.current"),
            memory_limit=None if raw_limit == "max" else int(raw_limit),
            pids_current=fs.read_int(self.path / "pids.current", len(self.pids())),
        )

    def release(self) -> None:
        fs.rmdir_if_empty(self.path)

    def destroy(self) -> None:
        if not self.path.is_dir():
            return
        if (self.path / "cgroup.kill").exists():
            fs.write(self.path / "cgroup.kill", 1)  # atomic, races no fork
        fs.kill_all(self.path / "cgroup.procs")
        fs.remove_tree(self.path)
