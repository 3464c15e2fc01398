"""The resource half of a create request and the body of ``update``: memory, CPU, pids,
block I/O, ulimits, /dev/shm, devices, as docker's CLI sends them (issue 13).

A field at its zero value is left out (the daemon's default); docker's CLI sends every
field with its zero value, which the daemon reads the same way.
"""

from __future__ import annotations

from berth.client.models import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final


class ContainerResources(Value):
    """What the resource flags of ``create``/``run`` ask for (sizes in bytes, devices by
    path; ``memory_swappiness`` -1 and ``pids_limit`` None: not given)."""

    __slots__ = ("blkio_weight", "blkio_weight_device", "cpu_period", "cpu_quota",
                 "cpu_shares", "cpuset_cpus", "cpuset_mems", "device_cgroup_rules",
                 "device_read_bps", "device_read_iops", "device_write_bps",
                 "device_write_iops", "devices", "memory", "memory_reservation",
                 "memory_swap", "memory_swappiness", "nano_cpus", "oom_kill_disable",
                 "oom_score_adj", "pids_limit", "realtime", "shm_size", "ulimits")
    memory: Final[int]
    memory_swap: Final[int]
    memory_reservation: Final[int]
    memory_swappiness: Final[int]
    oom_kill_disable: Final[bool]
    oom_score_adj: Final[int]
    nano_cpus: Final[int]
    cpu_shares: Final[int]
    cpu_period: Final[int]
    cpu_quota: Final[int]
    cpuset_cpus: Final[str]
    cpuset_mems: Final[str]
    pids_limit: Final[int | None]
    blkio_weight: Final[int]
    blkio_weight_device: Final[tuple[tuple[str, int], ...]]  # (path, weight)
    device_read_bps: Final[tuple[tuple[str, int], ...]]  # (path, rate)
    device_write_bps: Final[tuple[tuple[str, int], ...]]
    device_read_iops: Final[tuple[tuple[str, int], ...]]
    device_write_iops: Final[tuple[tuple[str, int], ...]]
    ulimits: Final[tuple[tuple[str, int, int], ...]]  # (name, soft, hard)
    shm_size: Final[int]
    devices: Final[tuple[tuple[str, str, str], ...]]  # (host, container, permissions)
    device_cgroup_rules: Final[tuple[str, ...]]
    realtime: Final[tuple[int, int]]  # CpuRealtimePeriod, CpuRealtimeRuntime

    def __init__(self, memory: int = 0, memory_swap: int = 0, memory_reservation: int = 0,
                 memory_swappiness: int = -1, oom_kill_disable: bool = False,
                 oom_score_adj: int = 0, nano_cpus: int = 0, cpu_shares: int = 0,
                 cpu_period: int = 0, cpu_quota: int = 0, cpuset_cpus: str = "",
                 cpuset_mems: str = "", pids_limit: int | None = None,
                 blkio_weight: int = 0,
                 blkio_weight_device: tuple[tuple[str, int], ...] = (),
                 device_read_bps: tuple[tuple[str, int], ...] = (),
                 device_write_bps: tuple[tuple[str, int], ...] = (),
                 device_read_iops: tuple[tuple[str, int], ...] = (),
                 device_write_iops: tuple[tuple[str, int], ...] = (),
                 ulimits: tuple[tuple[str, int, int], ...] = (), shm_size: int = 0,
                 devices: tuple[tuple[str, str, str], ...] = (),
                 device_cgroup_rules: tuple[str, ...] = (),
                 realtime: tuple[int, int] = (0, 0)) -> None:
        self.memory = memory
        self.memory_swap = memory_swap
        self.memory_reservation = memory_reservation
        self.memory_swappiness = memory_swappiness
        self.oom_kill_disable = oom_kill_disable
        self.oom_score_adj = oom_score_adj
        self.nano_cpus = nano_cpus
        self.cpu_shares = cpu_shares
        self.cpu_period = cpu_period
        self.cpu_quota = cpu_quota
        self.cpuset_cpus = cpuset_cpus
        self.cpuset_mems = cpuset_mems
        self.pids_limit = pids_limit
        self.blkio_weight = blkio_weight
        self.blkio_weight_device = blkio_weight_device
        self.device_read_bps = device_read_bps
        self.device_write_bps = device_write_bps
        self.device_read_iops = device_read_iops
        self.device_write_iops = device_write_iops
        self.ulimits = ulimits
        self.shm_size = shm_size
        self.devices = devices
        self.device_cgroup_rules = device_cgroup_rules
        self.realtime = realtime

    def fill(self, host: dict[str, Any]) -> None:
        """Write the HostConfig fields that are set."""
        for key, value in (
                ("Memory", self.memory), ("MemorySwap", self.memory_swap),
                ("MemoryReservation", self.memory_reservation),
                ("OomKillDisable", self.oom_kill_disable),
                ("OomScoreAdj", self.oom_score_adj), ("NanoCpus", self.nano_cpus),
                ("CpuShares", self.cpu_shares), ("CpuPeriod", self.cpu_period),
                ("CpuQuota", self.cpu_quota), ("CpusetCpus", self.cpuset_cpus),
                ("CpusetMems", self.cpuset_mems), ("BlkioWeight", self.blkio_weight),
                ("ShmSize", self.shm_size), ("CpuRealtimePeriod", self.realtime[0]),
                ("CpuRealtimeRuntime", self.realtime[1]),
                ("DeviceCgroupRules", list(self.device_cgroup_rules))):
            if value:
                host[key] = value
        if self.memory_swappiness != -1:
            host["MemorySwappiness"] = self.memory_swappiness
        if self.pids_limit is not None:
            host["PidsLimit"] = self.pids_limit
        if self.blkio_weight_device:
            host["BlkioWeightDevice"] = [{"Path": p, "Weight": w}
                                         for p, w in self.blkio_weight_device]
        for key, throttles in (("BlkioDeviceReadBps", self.device_read_bps),
                               ("BlkioDeviceWriteBps", self.device_write_bps),
                               ("BlkioDeviceReadIOps", self.device_read_iops),
                               ("BlkioDeviceWriteIOps", self.device_write_iops)):
            if throttles:
                host[key] = [{"Path": p, "Rate": r} for p, r in throttles]
        if self.ulimits:
            host["Ulimits"] = [{"Name": n, "Soft": s, "Hard": h} for n, s, h in self.ulimits]
        if self.devices:
            host["Devices"] = [{"PathOnHost": src, "PathInContainer": dst,
                                "CgroupPermissions": perms} for src, dst, perms in self.devices]


class ResourceUpdate(Value):
    """The body of ``POST /containers/{id}/update`` (docker's ``container update``)."""

    __slots__ = ("resources", "restart_policy")
    resources: Final[ContainerResources]
    restart_policy: Final[dict[str, Any] | None]  # {"Name", "MaximumRetryCount"}

    def __init__(self, resources: ContainerResources,
                 restart_policy: dict[str, Any] | None = None) -> None:
        self.resources = resources
        self.restart_policy = restart_policy

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        self.resources.fill(body)
        if self.restart_policy is not None:
            body["RestartPolicy"] = self.restart_policy
        return body
