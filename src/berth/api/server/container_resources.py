"""A create body's resource fields (docker's HostConfig ``Resources``, ``ShmSize`` and
``OomScoreAdj``) in, and inspect's HostConfig out: ``engine.containers.resources.Resources``
on the engine side.

    HONOURED, DEFAULTS          what create accepts (every other field set is refused)
    resources_from(host)        the limits a create asks for, checked and adapted as
                                docker's daemon does (what the kernel lacks discarded)
    warnings(host)              the create response's Warnings about them
    UPDATABLE, update_from(b)   what ``POST /containers/{id}/update`` may change, checked
    host_config(host, c)        inspect's HostConfig with the container's limits
"""

from __future__ import annotations

from berth.api.types import containers as types
from berth.api.types.decode import unsupported
from berth.engine.containers import resources, restart
from berth.engine.containers.model import Container, RestartPolicy
from berth.engine.containers.resources import (
    DeviceMapping,
    Resources,
    ThrottleDevice,
    Ulimit,
    WeightDevice,
)
from berth.engine.containers.update import ResourceUpdate
from berth.errors import InvalidArgument

HONOURED = frozenset({
    "CpuShares", "Memory", "CpuPeriod", "CpuQuota", "MemoryReservation", "MemorySwap",
    "NanoCpus", "PidsLimit", "MemorySwappiness", "OomKillDisable", "OomScoreAdj",
    "CpusetCpus", "CpusetMems", "BlkioWeight", "BlkioWeightDevice", "BlkioDeviceReadBps",
    "BlkioDeviceWriteBps", "BlkioDeviceReadIOps", "BlkioDeviceWriteIOps", "Ulimits",
    "ShmSize", "Devices", "DeviceCgroupRules", "IOMaximumIOps", "IOMaximumBandwidth",
    "CpuPercent"})
# Values that ask for exactly what every berth container gets.
DEFAULTS: dict[str, tuple[object, ...]] = {}
# What ``docker update`` changes (moby's Container.UpdateContainer), besides RestartPolicy.
UPDATABLE = frozenset({
    "CpuShares", "Memory", "CpuPeriod", "CpuQuota", "MemoryReservation", "MemorySwap",
    "NanoCpus", "PidsLimit", "CpusetCpus", "CpusetMems", "BlkioWeight"})


def _requested(host: types.Resources, shm_size: int = 0, oom_score_adj: int = 0
               ) -> Resources:
    """The fields as the body gives them; InvalidArgument for what linux never does."""
    if host.IOMaximumBandwidth or host.IOMaximumIOps:
        raise InvalidArgument("Invalid QoS settings: linux does not support Maximum IO "
                              "Bandwidth or Maximum IO IOps")
    return Resources(
        memory=host.Memory, memory_swap=host.MemorySwap,
        memory_reservation=host.MemoryReservation, nano_cpus=host.NanoCpus,
        cpu_shares=host.CpuShares, cpu_quota=host.CpuQuota, cpu_period=host.CpuPeriod,
        pids_limit=host.PidsLimit or 0, memory_swappiness=host.MemorySwappiness,
        oom_kill_disable=bool(host.OomKillDisable), oom_score_adj=oom_score_adj,
        cpuset_cpus=host.CpusetCpus, cpuset_mems=host.CpusetMems,
        blkio_weight=host.BlkioWeight,
        blkio_weight_device=tuple(WeightDevice(w.Path, w.Weight)
                                  for w in host.BlkioWeightDevice or ()),
        device_read_bps=_throttles(host.BlkioDeviceReadBps),
        device_write_bps=_throttles(host.BlkioDeviceWriteBps),
        device_read_iops=_throttles(host.BlkioDeviceReadIOps),
        device_write_iops=_throttles(host.BlkioDeviceWriteIOps),
        ulimits=tuple(Ulimit(u.Name, u.Soft, u.Hard) for u in host.Ulimits or ()),
        shm_size=shm_size,
        devices=tuple(DeviceMapping(d.PathOnHost, d.PathInContainer or d.PathOnHost,
                                    d.CgroupPermissions or "rwm")
                      for d in host.Devices or ()),
        device_cgroup_rules=tuple(host.DeviceCgroupRules or ()))


def _throttles(values: list[types.ThrottleDevice] | None) -> tuple[ThrottleDevice, ...]:
    return tuple(ThrottleDevice(t.Path, t.Rate) for t in values or ())


def _checked(host: types.HostConfig) -> tuple[Resources, list[str]]:
    res, warnings = resources.verify(_requested(host, host.ShmSize, host.OomScoreAdj))
    if host.CpuPercent > 0:
        warnings.append("linux does not support CPU percent. Percent discarded.")
    return resources.adapt(res), warnings


def resources_from(host: types.HostConfig) -> Resources:
    """The limits ``host`` asks for; InvalidArgument as docker words it."""
    return _checked(host)[0]


def warnings(host: types.HostConfig) -> list[str]:
    """docker's create Warnings about ``host``'s limits (what this kernel discards)."""
    return _checked(host)[1]


def update_from(body: types.ContainerUpdate) -> tuple[ResourceUpdate, list[str]]:
    """What an update body asks to change (0, "" and None: unchanged, as docker's),
    checked alone as docker checks it (InvalidArgument), and the Warnings."""
    refused = unsupported(body, UPDATABLE | {"RestartPolicy"})
    if refused is not None:
        raise InvalidArgument(f"berth does not support updating {refused} yet")
    res, warned = resources.verify(_requested(body), update=True)
    policy = None
    if body.RestartPolicy is not None and body.RestartPolicy.Name:
        policy = RestartPolicy(body.RestartPolicy.Name, body.RestartPolicy.MaximumRetryCount)
        restart.validate(policy, auto_remove=False)
    return ResourceUpdate(resources=res, pids_limit_given=body.PidsLimit is not None,
                          restart_policy=policy), warned


def host_config(host: types.HostConfig, c: Container) -> types.HostConfig:
    """``host`` with the resource fields of ``c``."""
    r = c.spec.resources
    host.Memory, host.MemorySwap, host.MemoryReservation = (
        r.memory, r.memory_swap, r.memory_reservation)
    host.NanoCpus, host.CpuShares, host.CpuQuota, host.CpuPeriod = (
        r.nano_cpus, r.cpu_shares, r.cpu_quota, r.cpu_period)
    host.CpusetCpus, host.CpusetMems = r.cpuset_cpus, r.cpuset_mems
    host.PidsLimit = r.pids_limit or None
    host.MemorySwappiness = r.memory_swappiness
    host.OomKillDisable = r.oom_kill_disable
    host.OomScoreAdj = r.oom_score_adj
    host.BlkioWeight = r.blkio_weight
    host.BlkioWeightDevice = [types.WeightDevice(w.path, w.weight)
                              for w in r.blkio_weight_device]
    host.BlkioDeviceReadBps, host.BlkioDeviceWriteBps = (
        _throttle_json(r.device_read_bps), _throttle_json(r.device_write_bps))
    host.BlkioDeviceReadIOps, host.BlkioDeviceWriteIOps = (
        _throttle_json(r.device_read_iops), _throttle_json(r.device_write_iops))
    host.Ulimits = [types.Ulimit(u.name, u.soft, u.hard) for u in r.ulimits] or None
    host.ShmSize = r.shm_size or resources.DEFAULT_SHM_SIZE
    host.Devices = [types.DeviceMapping(d.path_on_host, d.path_in_container,
                                        d.cgroup_permissions) for d in r.devices]
    host.DeviceCgroupRules = list(r.device_cgroup_rules) or None
    return host


def _throttle_json(values: tuple[ThrottleDevice, ...]) -> list[types.ThrottleDevice]:
    return [types.ThrottleDevice(t.path, t.rate) for t in values]
