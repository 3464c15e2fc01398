"""cgroup v1: one directory per controller hierarchy (runc's ``fs`` manager)."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

from berth.oci import spec as oci
from berth.runtime.linux.cgroups import DEFAULT_ROOT, CgroupStats
from berth.runtime.linux.cgroups import cgroupfs as fs

# Hierarchies we place the container in; named ones (name=systemd) are left alone.
CONTROLLERS = ("cpu", "cpuacct", "cpuset", "memory", "pids", "freezer", "blkio", "devices",
               "net_cls", "net_prio", "hugetlb", "perf_event")
_UNLIMITED = 0x7FFFFFFFFFFFF000  # what memory.limit_in_bytes reads when unset
_FREEZE_TIMEOUT = 2.0


class CgroupV1Manager:
    def __init__(self, cgroups_path: str, root: Path = DEFAULT_ROOT) -> None:
        self.cgroups_path = cgroups_path
        self._root = root
        self._rel = fs.relative_path(cgroups_path)

    def _dirs(self) -> dict[str, Path]:
        """controller → this cgroup's directory, one per mounted hierarchy (``cpu`` and
        ``cpuacct`` may be one co-mounted hierarchy behind symlinks)."""
        dirs: dict[str, Path] = {}
        seen: set[str] = set()
        for name in CONTROLLERS:
            mount = self._root / name
            if not mount.is_dir():
                continue
            real = os.path.realpath(mount)
            if real in seen:
                continue
            seen.add(real)
            dirs[name] = mount / self._rel
        return dirs

    def _path(self, controller: str) -> Path | None:
        path = self._root / controller / self._rel
        return path if (self._root / controller).is_dir() else None

    def create(self) -> None:
        for controller, path in self._dirs().items():
            if controller == "cpuset":
                self._make_cpuset(path)
            else:
                path.mkdir(parents=True, exist_ok=True)

    def _make_cpuset(self, path: Path) -> None:
        # A new v1 cpuset starts with empty cpus/mems and then refuses tasks, so each
        # level we create inherits its parent's (runc's ensureParent).
        missing = []
        level = path
        while not level.exists():
            missing.append(level)
            level = level.parent
        for new in reversed(missing):
            new.mkdir()
            for name in ("cpuset.cpus", "cpuset.mems"):
                if not _has_value(new / name):
                    fs.write(new / name, _read_or_empty(new.parent / name))

    def exists(self) -> bool:
        return any(p.is_dir() for p in self._dirs().values())

    def add_process(self, pid: int) -> None:
        for path in self._dirs().values():
            fs.write(path / "cgroup.procs", pid)

    def apply(self, resources: oci.Resources) -> None:
        if "memory" in resources and (mem := self._path("memory")):
            self._apply_memory(mem, resources["memory"])
        if "cpu" in resources:
            self._apply_cpu(resources["cpu"])
        if "pids" in resources and (pids := self._path("pids")):
            limit = resources["pids"]["limit"]
            fs.write(pids / "pids.max", limit if limit > 0 else "max")
        if "blockIO" in resources and (blkio := self._path("blkio")):
            _apply_blkio(blkio, resources["blockIO"])
        if "devices" in resources and (devices := self._path("devices")):
            for rule in resources["devices"]:
                name = "devices.allow" if rule.get("allow") else "devices.deny"
                fs.write(devices / name, _device_rule(rule))

    def _apply_memory(self, path: Path, mem: oci.MemoryResources) -> None:
        if "limit" in mem or "swap" in mem:
            values = [("memory.limit_in_bytes", mem.get("limit"))]
            if (path / "memory.memsw.limit_in_bytes").exists():
                values.append(("memory.memsw.limit_in_bytes", mem.get("swap")))
            # memory.limit may not exceed memsw and memsw may not go below memory.limit:
            # one order works when raising, the other when lowering.
            try:
                _write_limits(path, values)
            except OSError as err:
                if err.errno != errno.EINVAL:
                    raise
                _write_limits(path, list(reversed(values)))
        if "reservation" in mem:
            fs.write(path / "memory.soft_limit_in_bytes", mem["reservation"])
        if "swappiness" in mem:
            fs.write(path / "memory.swappiness", mem["swappiness"])
        if mem.get("disableOOMKiller"):
            fs.write(path / "memory.oom_control", 1)

    def _apply_cpu(self, cpu: oci.CpuResources) -> None:
        if path := self._path("cpu"):
            if cpu.get("shares"):
                fs.write(path / "cpu.shares", cpu["shares"])
            # The period first: a quota is checked against the current period.
            if cpu.get("period"):
                fs.write(path / "cpu.cfs_period_us", cpu["period"])
            if "quota" in cpu:
                fs.write(path / "cpu.cfs_quota_us", cpu["quota"] if cpu["quota"] > 0 else -1)
        if path := self._path("cpuset"):
            if cpu.get("cpus"):
                fs.write(path / "cpuset.cpus", cpu["cpus"])
            if cpu.get("mems"):
                fs.write(path / "cpuset.mems", cpu["mems"])

    def freeze(self) -> None:
        self._set_freezer("FROZEN")

    def thaw(self) -> None:
        self._set_freezer("THAWED")

    def _set_freezer(self, state: str) -> None:
        path = self._path("freezer")
        if path is None:
            raise OSError(errno.ENOTSUP, "no freezer cgroup hierarchy")
        deadline = time.monotonic() + _FREEZE_TIMEOUT
        fs.write(path / "freezer.state", state)
        # FREEZING is transient: the kernel settles once every task has stopped.
        while fs.read(path / "freezer.state") != state:
            if time.monotonic() > deadline:
                raise OSError(errno.EBUSY, f"cgroup did not reach {state}", str(path))
            fs.write(path / "freezer.state", state)
            time.sleep(0.001)

    def pids(self) -> list[int]:
        for path in self._dirs().values():
            if path.is_dir():
                return fs.read_pids(path / "cgroup.procs")
        return []

    def oom_kill_count(self) -> int:
        path = self._path("memory")
        return fs.read_keyed(path / "memory.oom_control").get("oom_kill", 0) if path else 0

    def stats(self) -> CgroupStats:
        mem = self._path("memory")
        pids = self._path("pids")
        limit = fs.read_int(mem / "memory.limit_in_bytes", _UNLIMITED) if mem else _UNLIMITED
        return CgroupStats(
            memory_usage=fs.read_int(mem / "memory.usage_in_bytes") if mem else 0,
            memory_limit=None if limit >= _UNLIMITED else limit,
            pids_current=fs.read_int(pids / "pids.current") if pids else len(self.pids()),
        )

    def release(self) -> None:
        for path in self._dirs().values():
            fs.rmdir_if_empty(path)

    def destroy(self) -> None:
        dirs = self._dirs()
        freezer = dirs.get("freezer")
        if freezer is not None and _read_or_empty(freezer / "freezer.state") in (
                "FROZEN", "FREEZING"):
            self.thaw()  # a frozen task cannot act on SIGKILL
        for path in dirs.values():
            if path.is_dir():
                fs.kill_all(path / "cgroup.procs")
                break  # every hierarchy holds the same tasks
        for path in dirs.values():
            fs.remove_tree(path)


def _apply_blkio(path: Path, bio: oci.BlockIO) -> None:
    """Weights (CFQ's blkio.weight, or BFQ's blkio.bfq.weight where only it exists) and
    throttles, one ``MAJ:MIN value`` line per write; a file the kernel lacks is ENOTSUP."""
    if bio.get("weight"):
        fs.write(_blkio_file(path, "blkio.weight", "blkio.bfq.weight"), bio["weight"])
    for dev in bio.get("weightDevice", []):
        fs.write(_blkio_file(path, "blkio.weight_device", "blkio.bfq.weight_device"),
                 f"{dev['major']}:{dev['minor']} {dev['weight']}")
    for throttles, name in (
            (bio.get("throttleReadBpsDevice", []), "blkio.throttle.read_bps_device"),
            (bio.get("throttleWriteBpsDevice", []), "blkio.throttle.write_bps_device"),
            (bio.get("throttleReadIOPSDevice", []), "blkio.throttle.read_iops_device"),
            (bio.get("throttleWriteIOPSDevice", []), "blkio.throttle.write_iops_device")):
        for throttle in throttles:
            fs.write(_blkio_file(path, name),
                     f"{throttle['major']}:{throttle['minor']} {throttle['rate']}")


def _blkio_file(path: Path, *names: str) -> Path:
    for name in names:
        if (path / name).exists():
            return path / name
    raise OSError(errno.ENOTSUP, f"the kernel has no {names[0]} (blkio cgroup)",
                  str(path))


def _write_limits(path: Path, values: list[tuple[str, int | None]]) -> None:
    for name, value in values:
        if value is not None:
            fs.write(path / name, value)


def _has_value(path: Path) -> bool:
    return bool(_read_or_empty(path))


def _read_or_empty(path: Path) -> str:
    try:
        return fs.read(path)
    except FileNotFoundError:
        return ""


def _device_rule(rule: oci.DeviceCgroup) -> str:
    kind = rule.get("type", "a")
    if kind == "a":
        return "a"
    major = rule.get("major")
    minor = rule.get("minor")
    major_s = "*" if major is None or major < 0 else str(major)
    minor_s = "*" if minor is None or minor < 0 else str(minor)
    return f"{kind} {major_s}:{minor_s} {rule.get('access', 'rwm')}"
