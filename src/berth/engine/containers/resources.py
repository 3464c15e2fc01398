"""A container's resource limits: what a create or ``update`` asks for, docker's checks of
them, and the spec options that hand them to the runtime (``linux.resources``,
``process.rlimits``/``oomScoreAdj``, ``linux.devices`` and the /dev/shm size).

    Resources            docker's HostConfig resource fields (and ShmSize, OomScoreAdj)
    verify(res, ...)     moby's verifyPlatformContainerResources: refusals as docker words
                         them, and the warnings (and discards) for what the kernel lacks
    adapt(res)           moby's adaptContainerSettings: swap twice the memory by default
    spec_opts(res)       the runtime.spec options, in the order they apply

Every field has a default: records are persisted as JSON, and an older record (without
the newer fields) must load as a container with none of those limits.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, replace

from berth.errors import InvalidArgument, RuntimeFailure
from berth.oci import spec as oci
from berth.runtime import host
from berth.runtime import spec as runtime_spec
from berth.runtime.spec import SpecOpt

TYPE_CHECKING = False
if TYPE_CHECKING:
    from berth.runtime.host import CgroupFeatures

MIN_MEMORY = 6 * 1024 * 1024
DEFAULT_SHM_SIZE = 64 * 1024 * 1024
# moby oci.deviceCgroupRuleRegex
_DEVICE_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")
# go-units' ulimitNameMapping ("as" is disabled there too)
ULIMIT_NAMES = frozenset({"core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue",
                          "nice", "nofile", "nproc", "rss", "rtprio", "rttime",
                          "sigpending", "stack"})


@dataclass(frozen=True)
class Ulimit:
    name: str  # docker's name: "nofile"
    soft: int
    hard: int


@dataclass(frozen=True)
class DeviceMapping:
    """``--device HOST[:CONTAINER[:PERMS]]`` (docker's DeviceMapping)."""

    path_on_host: str
    path_in_container: str = ""
    cgroup_permissions: str = "rwm"


@dataclass(frozen=True)
class ThrottleDevice:
    path: str
    rate: int  # bytes or I/O operations per second


@dataclass(frozen=True)
class WeightDevice:
    path: str
    weight: int


@dataclass(frozen=True)
class Resources:
    memory: int = 0
    memory_swap: int = 0  # memory+swap; -1 unlimited
    memory_reservation: int = 0
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    pids_limit: int = 0
    memory_swappiness: int | None = None  # None: the kernel's
    oom_kill_disable: bool = False
    oom_score_adj: int = 0
    cpuset_cpus: str = ""
    cpuset_mems: str = ""
    blkio_weight: int = 0
    blkio_weight_device: tuple[WeightDevice, ...] = ()
    device_read_bps: tuple[ThrottleDevice, ...] = ()
    device_write_bps: tuple[ThrottleDevice, ...] = ()
    device_read_iops: tuple[ThrottleDevice, ...] = ()
    device_write_iops: tuple[ThrottleDevice, ...] = ()
    ulimits: tuple[Ulimit, ...] = ()
    shm_size: int = 0  # bytes of /dev/shm; 0: DEFAULT_SHM_SIZE
    devices: tuple[DeviceMapping, ...] = ()
    device_cgroup_rules: tuple[str, ...] = ()


def validate(res: Resources) -> None:
    """Refuse what docker refuses at create (the engine's check of a stored request)."""
    verify(res)


def adapt(res: Resources) -> Resources:
    """moby's adaptContainerSettings: a memory limit without a swap limit allows as much
    swap as memory (inspect shows MemorySwap twice Memory)."""
    if res.memory > 0 and res.memory_swap == 0:
        return replace(res, memory_swap=res.memory * 2)
    return res


def verify(res: Resources, features: CgroupFeatures | None = None, update: bool = False
           ) -> tuple[Resources, list[str]]:
    """moby's verifyPlatformContainerResources (and the resource part of
    verifyPlatformContainerSettings): InvalidArgument in docker's words, or ``res`` with
    what this kernel cannot limit discarded, and docker's warnings about it. Device
    throttles the kernel lacks are refused rather than dropped: a limit asked for is
    never silently missing."""
    f = features if features is not None else host.cgroup_features()
    warnings: list[str] = []
    res, warnings = _verify_memory(res, f, update, warnings)
    res = _verify_cpu(res, f, warnings)
    res = _verify_blkio(res, f, warnings)
    if res.pids_limit and not f.pids:
        if res.pids_limit > 0:
            warnings.append("Your kernel does not support PIDs limit capabilities or the "
                            "cgroup is not mounted. PIDs limit discarded.")
        res = replace(res, pids_limit=0)
    if res.shm_size < 0:
        raise InvalidArgument("SHM size can not be less than 0")
    if not -1000 <= res.oom_score_adj <= 1000:
        raise InvalidArgument(f"Invalid value {res.oom_score_adj}, range for oom score adj "
                              "is [-1000, 1000]")
    for ulimit in res.ulimits:
        if ulimit.name not in ULIMIT_NAMES:
            raise InvalidArgument(f"invalid ulimit type: {ulimit.name}")
    for rule in res.device_cgroup_rules:
        device_cgroup_rule(rule)
    if res.device_cgroup_rules and not f.device_rules:
        raise InvalidArgument(
            "berth cannot apply --device-cgroup-rule on this host: cgroup v2 controls "
            "devices with an eBPF program, which berth does not load")
    return res, warnings


def _verify_memory(res: Resources, f: CgroupFeatures, update: bool, warnings: list[str]
                   ) -> tuple[Resources, list[str]]:
    if res.memory_swappiness == -1:
        res = replace(res, memory_swappiness=None)  # moby's fixMemorySwappiness
    if res.memory != 0 and res.memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if res.memory > 0 and not f.memory:
        warnings.append("Your kernel does not support memory limit capabilities or the "
                        "cgroup is not mounted. Limitation discarded.")
        res = replace(res, memory=0, memory_swap=-1)
    if res.memory > 0 and res.memory_swap != -1 and not f.swap:
        warnings.append("Your kernel does not support swap limit capabilities or the cgroup "
                        "is not mounted. Memory limited without swap.")
        res = replace(res, memory_swap=-1)
    if res.memory > 0 and res.memory_swap > 0 and res.memory_swap < res.memory:
        raise InvalidArgument("Minimum memoryswap limit should be larger than memory limit, "
                              "see usage")
    if res.memory == 0 and res.memory_swap > 0 and not update:
        raise InvalidArgument("You should always set the Memory limit when using Memoryswap "
                              "limit, see usage")
    if res.memory_swappiness is not None and not f.swappiness:
        warnings.append("Your kernel does not support memory swappiness capabilities or the "
                        "cgroup is not mounted. Memory swappiness discarded.")
        res = replace(res, memory_swappiness=None)
    if res.memory_swappiness is not None and not 0 <= res.memory_swappiness <= 100:
        raise InvalidArgument(f"Invalid value: {res.memory_swappiness}, valid memory "
                              "swappiness range is 0-100")
    if res.memory_reservation > 0 and res.memory_reservation < MIN_MEMORY:
        raise InvalidArgument("Minimum memory reservation allowed is 6MB")
    if 0 < res.memory < res.memory_reservation:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation "
                              "limit, see usage")
    if res.oom_kill_disable and not f.oom_kill_disable:
        warnings.append("Your kernel does not support OomKillDisable. OomKillDisable "
                        "discarded.")
        res = replace(res, oom_kill_disable=False)
    if res.oom_kill_disable and res.memory == 0:
        warnings.append("OOM killer is disabled for the container, but no memory limit is "
                        "set, this can result in the system running out of resources.")
    return res, warnings


def _verify_cpu(res: Resources, f: CgroupFeatures, warnings: list[str]) -> Resources:
    if res.nano_cpus > 0 and res.cpu_period > 0:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Period cannot both be "
                              "set")
    if res.nano_cpus > 0 and res.cpu_quota > 0:
        raise InvalidArgument("Conflicting options: Nano CPUs and CPU Quota cannot both be "
                              "set")
    if res.nano_cpus > 0 and not f.cpu_cfs:
        raise InvalidArgument("NanoCPUs can not be set, as your kernel does not support CPU "
                              "CFS scheduler or the cgroup is not mounted")
    ncpu = os.cpu_count() or 1
    if res.nano_cpus != 0 and not 0 <= res.nano_cpus <= ncpu * 10**9:
        raise InvalidArgument(f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only "
                              f"{ncpu} CPUs available")
    if res.cpu_shares > 0 and not f.cpu_shares:
        warnings.append("Your kernel does not support CPU shares or the cgroup is not "
                        "mounted. Shares discarded.")
        res = replace(res, cpu_shares=0)
    if (res.cpu_period or res.cpu_quota) and not f.cpu_cfs:
        warnings.append("Your kernel does not support CPU CFS scheduler. CPU period/quota "
                        "discarded.")
        res = replace(res, cpu_period=0, cpu_quota=0)
    if res.cpu_period != 0 and not 1000 <= res.cpu_period <= 1_000_000:
        raise InvalidArgument("CPU cfs period can not be less than 1ms (i.e. 1000) or larger "
                              "than 1s (i.e. 1000000)")
    if 0 < res.cpu_quota < 1000:
        raise InvalidArgument("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    if (res.cpuset_cpus or res.cpuset_mems) and not f.cpuset:
        warnings.append("Your kernel does not support cpuset or the cgroup is not mounted. "
                        "Cpuset discarded.")
        return replace(res, cpuset_cpus="", cpuset_mems="")
    for requested, available, what, name in (
            (res.cpuset_cpus, f.cpus, "cpus", "CPUs"),
            (res.cpuset_mems, f.mems, "mems", "memory nodes")):
        if not requested:
            continue
        try:
            wanted = parse_uint_list(requested)
        except ValueError as err:
            raise InvalidArgument(f"Invalid value {requested} for cpuset {what}: {err}"
                                  ) from None
        if not wanted <= parse_uint_list(available or "0"):
            raise InvalidArgument(f"Requested {name} are not available - requested "
                                  f"{requested}, available: {available}")
    return res


def _verify_blkio(res: Resources, f: CgroupFeatures, warnings: list[str]) -> Resources:
    if res.blkio_weight > 0 and not f.blkio_weight:
        warnings.append("Your kernel does not support Block I/O weight or the cgroup is not "
                        "mounted. Weight discarded.")
        res = replace(res, blkio_weight=0)
    if res.blkio_weight > 0 and not 10 <= res.blkio_weight <= 1000:
        raise InvalidArgument("Range of blkio weight is from 10 to 1000")
    if res.blkio_weight_device and not f.blkio_weight_device:
        warnings.append("Your kernel does not support Block I/O weight_device or the cgroup "
                        "is not mounted. Weight-device discarded.")
        res = replace(res, blkio_weight_device=())
    for throttles, supported, flag in (
            (res.device_read_bps, f.read_bps_device, "--device-read-bps"),
            (res.device_write_bps, f.write_bps_device, "--device-write-bps"),
            (res.device_read_iops, f.read_iops_device, "--device-read-iops"),
            (res.device_write_iops, f.write_iops_device, "--device-write-iops")):
        if throttles and not supported:
            raise InvalidArgument(f"Your kernel does not support {flag} (no blkio throttle "
                                  "file in the cgroup): refusing to run without the limit")
    return res


def parse_uint_list(text: str) -> set[int]:
    """moby's parsers.ParseUintList: "0-2,4" is {0, 1, 2, 4}; ValueError "invalid format"."""
    found: set[int] = set()
    for part in text.split(","):
        low, dash, high = part.partition("-")
        if not low.isdecimal() or (dash and not high.isdecimal()):
            raise ValueError(f"invalid format: {text}")
        if not dash:
            found.add(int(low))
            continue
        if int(high) < int(low):
            raise ValueError(f"invalid format: {text}")
        found.update(range(int(low), int(high) + 1))
    return found


def device_cgroup_rule(rule: str) -> oci.DeviceCgroup:
    """``c 1:3 rwm`` (``*`` for any major or minor) as an allow rule (moby's
    AppendDevicePermissionsFromCgroupRules); a wildcard leaves the number out."""
    match = _DEVICE_RULE.match(rule)
    if match is None:
        raise InvalidArgument(f"invalid device cgroup rule format: '{rule}'")
    kind, major, minor, access = match.groups()
    out: oci.DeviceCgroup = {"allow": True, "type": kind, "access": access}
    if major != "*":
        out["major"] = int(major)
    if minor != "*":
        out["minor"] = int(minor)
    return out


# ── the spec ─────────────────────────────────────────────────────────────────────────


def spec_opts(res: Resources) -> list[SpecOpt]:
    """Memory, CPU, pids, block I/O, rlimits, oom_score_adj, /dev/shm and devices;
    ``--cpus`` (nano CPUs) is a quota of a 100 ms period unless a quota is given. Host
    devices are looked up when the options apply (at each start, as docker does)."""
    cpu_quota = res.cpu_quota or res.nano_cpus * 100_000 // 1_000_000_000
    return [runtime_spec.with_memory(res.memory, res.memory_swap, res.memory_reservation,
                                     res.memory_swappiness, res.oom_kill_disable),
            runtime_spec.with_cpu(res.cpu_shares, cpu_quota, res.cpu_period,
                                  res.cpuset_cpus, res.cpuset_mems),
            runtime_spec.with_pids_limit(res.pids_limit),
            with_block_io(res),
            runtime_spec.with_rlimits([(u.name, u.soft, u.hard) for u in res.ulimits]),
            runtime_spec.with_oom_score_adj(res.oom_score_adj),
            runtime_spec.with_shm_size(res.shm_size),
            with_host_devices(res.devices, res.device_cgroup_rules)]


def with_block_io(res: Resources) -> SpecOpt:
    """The weight and each device's weight and throttles, devices by their numbers."""
    def apply(spec: oci.Spec) -> None:
        bio: oci.BlockIO = {}
        if res.blkio_weight:
            bio["weight"] = res.blkio_weight
        if res.blkio_weight_device:
            bio["weightDevice"] = [{"major": major, "minor": minor, "weight": w.weight}
                                   for w in res.blkio_weight_device
                                   for major, minor in [_numbers(w.path)]]
        for throttles, key in ((res.device_read_bps, "throttleReadBpsDevice"),
                               (res.device_write_bps, "throttleWriteBpsDevice"),
                               (res.device_read_iops, "throttleReadIOPSDevice"),
                               (res.device_write_iops, "throttleWriteIOPSDevice")):
            if throttles:
                bio[key] = [  # type: ignore[literal-required]
                    {"major": major, "minor": minor, "rate": t.rate}
                    for t in throttles for major, minor in [_numbers(t.path)]]
        runtime_spec.with_block_io(bio)(spec)
    return apply


def _numbers(path: str) -> tuple[int, int]:
    try:
        return runtime_spec.device_numbers(path)
    except OSError as err:
        # moby's getBlkioThrottleDevices: the stat's os.PathError
        raise RuntimeFailure(f"stat {path}: {os.strerror(err.errno or 0).lower()}") from err


def with_host_devices(devices: tuple[DeviceMapping, ...], rules: tuple[str, ...]
                      ) -> SpecOpt:
    """Each ``--device`` made in the container with an allow rule of its permissions,
    then each ``--device-cgroup-rule``."""
    def apply(spec: oci.Spec) -> None:
        nodes: list[oci.Device] = []
        allowed: list[oci.DeviceCgroup] = []
        for d in devices:
            found, perms = runtime_spec.devices_from_path(
                d.path_on_host, d.path_in_container or d.path_on_host, d.cgroup_permissions)
            nodes += found
            allowed += perms
        allowed += [device_cgroup_rule(r) for r in rules]
        runtime_spec.with_devices(nodes, allowed)(spec)
    return apply
