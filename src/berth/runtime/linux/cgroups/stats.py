"""Reading a container's resource usage as containerd's cgroups library reads it, so the
figures berthd reports are the ones docker's ``/containers/{id}/stats`` gives.

    read_cgroup(path)      one CgroupSample of ``cgroupsPath``: cpu, memory, pids, blkio
    read_system_cpu()      /proc/stat's aggregate "cpu" line in ns, and the cpuN count
    read_net_dev(pid)      /proc/<pid>/net/dev: the counters of the interfaces of its netns
    machine_memory()       MemTotal in bytes (docker's limit when none is set)

Where each figure comes from (v1: per-controller hierarchies; v2: the unified one)::

    figure                 cgroup v1                                cgroup v2
    cpu total/percpu       cpuacct.usage, cpuacct.usage_percpu      cpu.stat usage_usec (no percpu)
    cpu user/kernel        cpuacct.stat user/system (ticks)         cpu.stat user_usec/system_usec
    throttling             cpu.stat nr_periods/nr_throttled/...     cpu.stat nr_periods/...
    memory usage/max       memory.usage_in_bytes/max_usage_in_bytes memory.current (no max)
    memory limit/failcnt   memory.limit_in_bytes, memory.failcnt    memory.max, memory.events oom
    memory stats           memory.stat (docker's 32 keys)           memory.stat (docker's 31)
    pids (current, max)    pids.current, pids.max ("max" reads 0)   the same ("max" reads 2^64-1)
    blkio                  blkio.io_*_recursive (CFQ/BFQ) or        io.stat rbytes/wbytes
                           blkio.throttle.io_serviced/service_bytes

Every read is a small sysfs/procfs file: a whole sample is about a dozen ``read(2)``s.
A file that is missing reads as zero, as containerd does; a cgroup that is gone entirely
raises FileNotFoundError (the container stopped).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from berth.runtime.linux.cgroups import DEFAULT_ROOT, is_unified
from berth.runtime.linux.cgroups import cgroupfs as fs

CLOCK_TICKS = 100  # USER_HZ: a constant on Linux (containerd hard-codes it too)
NS_PER_SEC = 1_000_000_000
UINT64_MAX = 2**64 - 1

# The memory.stat keys docker copies into memory_stats.stats (daemon/stats_unix.go).
V1_MEMORY_KEYS = (
    "cache", "rss", "rss_huge", "mapped_file", "dirty", "writeback", "pgpgin", "pgpgout",
    "pgfault", "pgmajfault", "inactive_anon", "active_anon", "inactive_file", "active_file",
    "unevictable", "hierarchical_memory_limit", "hierarchical_memsw_limit", "total_cache",
    "total_rss", "total_rss_huge", "total_mapped_file", "total_dirty", "total_writeback",
    "total_pgpgin", "total_pgpgout", "total_pgfault", "total_pgmajfault",
    "total_inactive_anon", "total_active_anon", "total_inactive_file", "total_active_file",
    "total_unevictable")
V2_MEMORY_KEYS = (
    "anon", "file", "kernel_stack", "slab", "sock", "shmem", "file_mapped", "file_dirty",
    "file_writeback", "anon_thp", "inactive_anon", "active_anon", "inactive_file",
    "active_file", "unevictable", "slab_reclaimable", "slab_unreclaimable", "pgfault",
    "pgmajfault", "workingset_refault", "workingset_activate", "workingset_nodereclaim",
    "pgrefill", "pgscan", "pgsteal", "pgactivate", "pgdeactivate", "pglazyfree",
    "pglazyfreed", "thp_fault_alloc", "thp_collapse_alloc")

# docker's blkio_stats fields, in its order, and the v1 file (CFQ/BFQ) behind each.
BLKIO_FIELDS = ("io_service_bytes_recursive", "io_serviced_recursive", "io_queue_recursive",
                "io_service_time_recursive", "io_wait_time_recursive", "io_merged_recursive",
                "io_time_recursive", "sectors_recursive")
_V1_BLKIO_FILES = {
    "sectors_recursive": "sectors_recursive",
    "io_service_bytes_recursive": "io_service_bytes_recursive",
    "io_serviced_recursive": "io_serviced_recursive",
    "io_queue_recursive": "io_queued_recursive",
    "io_service_time_recursive": "io_service_time_recursive",
    "io_wait_time_recursive": "io_wait_time_recursive",
    "io_merged_recursive": "io_merged_recursive",
    "io_time_recursive": "time_recursive",
}


@dataclass(frozen=True)
class CpuUsage:
    total: int = 0  # ns
    percpu: tuple[int, ...] = ()  # ns per CPU; v1 only
    kernel: int = 0  # ns
    user: int = 0  # ns
    periods: int = 0
    throttled_periods: int = 0
    throttled_time: int = 0  # ns


@dataclass(frozen=True)
class MemoryUsage:
    usage: int = 0
    max_usage: int = 0  # v1 only
    failcnt: int = 0  # v1 memory.failcnt; v2 memory.events "oom"
    limit: int = 0  # as the cgroup reads (huge or 2^64-1 when unlimited)
    stats: tuple[tuple[str, int], ...] = ()  # docker's keys of memory.stat, in its order


@dataclass(frozen=True)
class BlkioEntry:
    major: int
    minor: int
    op: str
    value: int


@dataclass(frozen=True)
class Blkio:
    """docker's blkio_stats: each field's entries, or None where docker sends null."""

    fields: tuple[tuple[str, tuple[BlkioEntry, ...] | None], ...] = ()

    def get(self, name: str) -> tuple[BlkioEntry, ...] | None:
        return dict(self.fields).get(name)


@dataclass(frozen=True)
class CgroupSample:
    version: int  # 1 or 2
    cpu: CpuUsage
    memory: MemoryUsage
    pids_current: int
    pids_limit: int  # 0 (v1) or 2^64-1 (v2) when unlimited, as containerd reads "max"
    blkio: Blkio


@dataclass(frozen=True)
class SystemCpu:
    usage: int  # ns: the first seven fields of /proc/stat's "cpu" line, in ticks, as ns
    online_cpus: int  # the "cpuN" lines


@dataclass(frozen=True)
class InterfaceCounters:
    name: str
    rx_bytes: int
    rx_packets: int
    rx_errors: int
    rx_dropped: int
    tx_bytes: int
    tx_packets: int
    tx_errors: int
    tx_dropped: int


def read_cgroup(cgroups_path: str, root: Path = DEFAULT_ROOT) -> CgroupSample:
    """The usage of the cgroup at ``cgroups_path``; FileNotFoundError if it is gone."""
    rel = fs.relative_path(cgroups_path)
    if is_unified(root):
        return _read_v2(root / rel)
    return _read_v1(root, rel)


def _read_v1(root: Path, rel: Path) -> CgroupSample:
    cpuacct, cpu, memory, pids, blkio = (root / c / rel for c in (
        "cpuacct", "cpu", "memory", "pids", "blkio"))
    if not memory.is_dir() and not cpuacct.is_dir():
        raise FileNotFoundError(2, "no such cgroup", str(memory))
    ticks = _kv(cpuacct / "cpuacct.stat")
    throttle = _kv(cpu / "cpu.stat")
    usage = CpuUsage(
        total=_uint(cpuacct / "cpuacct.usage"),
        percpu=tuple(int(v) for v in _text(cpuacct / "cpuacct.usage_percpu").split()),
        user=ticks.get("user", 0) * NS_PER_SEC // CLOCK_TICKS,
        kernel=ticks.get("system", 0) * NS_PER_SEC // CLOCK_TICKS,
        periods=throttle.get("nr_periods", 0),
        throttled_periods=throttle.get("nr_throttled", 0),
        throttled_time=throttle.get("throttled_time", 0))
    stat = _kv(memory / "memory.stat")
    mem = MemoryUsage(
        usage=_uint(memory / "memory.usage_in_bytes"),
        max_usage=_uint(memory / "memory.max_usage_in_bytes"),
        failcnt=_uint(memory / "memory.failcnt"),
        limit=_uint(memory / "memory.limit_in_bytes"),
        stats=tuple((k, stat.get(k, 0)) for k in V1_MEMORY_KEYS))
    return CgroupSample(version=1, cpu=usage, memory=mem,
                        pids_current=_uint(pids / "pids.current"),
                        pids_limit=_uint(pids / "pids.max", unlimited=0),
                        blkio=_blkio_v1(blkio))


def _blkio_v1(path: Path) -> Blkio:
    """containerd's order of preference: the CFQ/BFQ ``*_recursive`` files when the kernel
    has them and they hold entries, else the throttle files (which count every device)."""
    found: dict[str, tuple[BlkioEntry, ...]] = {}
    if (path / "blkio.io_serviced_recursive").exists():
        found = {name: _blkio_entries(path / f"blkio.{file}")
                 for name, file in _V1_BLKIO_FILES.items()}
    if not any(found.values()):
        found = {name: () for name in BLKIO_FIELDS}
        found["io_serviced_recursive"] = _blkio_entries(path / "blkio.throttle.io_serviced")
        found["io_service_bytes_recursive"] = _blkio_entries(
            path / "blkio.throttle.io_service_bytes")
    return Blkio(tuple((name, found[name]) for name in BLKIO_FIELDS))


def _blkio_entries(path: Path) -> tuple[BlkioEntry, ...]:
    """Lines ``major:minor [Op] value``; the "Total" line is dropped."""
    entries: list[BlkioEntry] = []
    for line in _text(path).splitlines():
        fields = line.replace(":", " ").split()
        if len(fields) < 3:
            continue  # "Total N"
        op, value = (fields[2], fields[3]) if len(fields) >= 4 else ("", fields[2])
        entries.append(BlkioEntry(int(fields[0]), int(fields[1]), op, int(value)))
    return tuple(entries)


def _read_v2(path: Path) -> CgroupSample:
    if not path.is_dir():
        raise FileNotFoundError(2, "no such cgroup", str(path))
    cpu = _kv(path / "cpu.stat")
    usage = CpuUsage(
        total=cpu.get("usage_usec", 0) * 1000,
        user=cpu.get("user_usec", 0) * 1000,
        kernel=cpu.get("system_usec", 0) * 1000,
        periods=cpu.get("nr_periods", 0),
        throttled_periods=cpu.get("nr_throttled", 0),
        throttled_time=cpu.get("throttled_usec", 0) * 1000)
    stat = _kv(path / "memory.stat")
    mem = MemoryUsage(
        usage=_uint(path / "memory.current"),
        failcnt=_kv(path / "memory.events").get("oom", 0),
        limit=_uint(path / "memory.max", unlimited=UINT64_MAX),
        stats=tuple((k, stat.get(k, 0)) for k in V2_MEMORY_KEYS))
    entries: list[BlkioEntry] = []
    for line in _text(path / "io.stat").splitlines():
        dev, *pairs = line.split()
        major, _, minor = dev.partition(":")
        values = dict(p.split("=", 1) for p in pairs if "=" in p)
        entries += [BlkioEntry(int(major), int(minor), "read", int(values.get("rbytes", 0))),
                    BlkioEntry(int(major), int(minor), "write", int(values.get("wbytes", 0)))]
    blkio = Blkio(tuple((name, tuple(entries) if name == BLKIO_FIELDS[0] and entries else None)
                        for name in BLKIO_FIELDS))
    return CgroupSample(version=2, cpu=usage, memory=mem,
                        pids_current=_uint(path / "pids.current"),
                        pids_limit=_uint(path / "pids.max", unlimited=UINT64_MAX),
                        blkio=blkio)


def read_system_cpu(path: Path = Path("/proc/stat")) -> SystemCpu:
    """moby's ``readSystemCPUUsage``: user..steal of the "cpu" line (seven fields, in
    clock ticks) as ns, and the number of "cpuN" lines."""
    total = online = 0
    with open(path, "rb") as f:
        for raw in f:
            if not raw.startswith(b"cpu"):
                break
            if raw[3:4] == b" ":
                total = sum(int(v) for v in raw.split()[1:8]) * NS_PER_SEC // CLOCK_TICKS
            elif raw[3:4].isdigit():
                online += 1
    return SystemCpu(usage=total, online_cpus=online)


def read_net_dev(pid: int, proc: Path = Path("/proc")) -> tuple[InterfaceCounters, ...]:
    """The interfaces of ``pid``'s network namespace but ``lo`` (docker reports a
    sandbox's endpoints, never its loopback); FileNotFoundError if the process is gone."""
    return parse_net_dev((proc / str(pid) / "net" / "dev").read_text())


def parse_net_dev(text: str) -> tuple[InterfaceCounters, ...]:
    found: list[InterfaceCounters] = []
    for line in text.splitlines()[2:]:
        name, _, counters = line.partition(":")
        name = name.strip()
        v = [int(x) for x in counters.split()]
        if name == "lo" or len(v) < 16:
            continue
        # receive: bytes packets errs drop fifo frame compressed multicast; transmit: same
        found.append(InterfaceCounters(name, v[0], v[1], v[2], v[3], v[8], v[9], v[10], v[11]))
    return tuple(found)


def machine_memory(path: Path = Path("/proc/meminfo")) -> int:
    """MemTotal in bytes (0 if unreadable)."""
    try:
        with open(path) as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return 0
    return 0


def _text(path: Path) -> str:
    try:
        with open(path) as f:
            return f.read()
    except FileNotFoundError:
        return ""


def _uint(path: Path, unlimited: int = 0) -> int:
    """A one-value file as containerd's readers take it: "max" is ``unlimited``, a
    negative value 0, a missing file 0."""
    value = _text(path).strip()
    if value == "max":
        return unlimited
    try:
        return max(int(value), 0)
    except ValueError:
        return 0


def _kv(path: Path) -> dict[str, int]:
    result: dict[str, int] = {}
    for line in _text(path).splitlines():
        key, _, value = line.partition(" ")
        try:
            result[key] = int(value)
        except ValueError:
            continue
    return result

