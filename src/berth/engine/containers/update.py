"""``docker update``: new limits and restart policy for a container (moby's
``daemon/update.go`` and ``Container.UpdateContainer``).

    ResourceUpdate          what the request asks to change (zero values: unchanged)
    merge(c, u)             the container's resources with the change, or docker's refusal
    restart_policy(c, u)    the policy after it (an auto-removed container's stays "no")
    live_resources(res)     the OCI ``linux.resources`` to write into a running container's
                            cgroup (berthd writes them through the CgroupManager for every
                            runtime, never through the runtime binary)

An update is checked (``resources.verify(update=True)`` over the request alone, as docker
checks it), merged, saved, then applied to the cgroup if the container runs; if the cgroup
refuses a value the old record is put back ("Cannot update container <id>: ...").
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from berth.engine.containers import restart
from berth.engine.containers.model import Container, RestartPolicy
from berth.engine.containers.resources import Resources
from berth.errors import Conflict
from berth.oci import spec as oci


@dataclass(frozen=True)
class ResourceUpdate:
    """The request: only memory, swap, reservation, CPU (shares, quota/period, nano CPUs,
    cpuset), pids and blkio weight of ``resources`` are read."""

    resources: Resources = field(default_factory=Resources)
    pids_limit_given: bool = False  # PidsLimit: 0 is "unlimited", absent is "unchanged"
    restart_policy: RestartPolicy | None = None


def merge(c: Container, u: ResourceUpdate) -> Resources:
    """moby's UpdateContainer: each non-zero field replaces the container's; NanoCPUs and
    a CPU period/quota exclude each other across the update and what is set."""
    new, cur = u.resources, c.spec.resources
    for asked, set_already, message in (
            (new.nano_cpus > 0, cur.cpu_period > 0,
             "Nano CPUs cannot be updated as CPU Period has already been set"),
            (new.nano_cpus > 0, cur.cpu_quota > 0,
             "Nano CPUs cannot be updated as CPU Quota has already been set"),
            (new.cpu_period > 0, cur.nano_cpus > 0,
             "CPU Period cannot be updated as NanoCPUs has already been set"),
            (new.cpu_quota > 0, cur.nano_cpus > 0,
             "CPU Quota cannot be updated as NanoCPUs has already been set")):
        if asked and set_already:
            raise Conflict(f"Conflicting options: {message}")
    if new.memory and new.memory > cur.memory_swap and new.memory_swap == 0:
        raise Conflict("Memory limit should be smaller than already set memoryswap "
                              "limit, update the memoryswap at the same time")
    changes = {name: getattr(new, name) for name in (
        "blkio_weight", "cpu_shares", "nano_cpus", "cpu_period", "cpu_quota", "cpuset_cpus",
        "cpuset_mems", "memory", "memory_swap", "memory_reservation") if getattr(new, name)}
    if u.pids_limit_given:
        changes["pids_limit"] = new.pids_limit
    return replace(cur, **changes)


def restart_policy(c: Container, u: ResourceUpdate) -> RestartPolicy:
    """The container's policy after the update; an auto-removed container keeps "no"."""
    if u.restart_policy is None:
        return c.spec.restart_policy
    if c.spec.auto_remove and u.restart_policy.name != restart.NO:
        raise Conflict("Restart policy cannot be updated because AutoRemove is enabled for "
                       "the container")
    return u.restart_policy


def live_resources(res: Resources, u: ResourceUpdate) -> oci.Resources:
    """What to write into the cgroup of a running container: every limit the update
    touched, at its merged value (memory and swap together, so v1's ordering rule and
    v2's swap-without-memory are handled by the manager)."""
    new = u.resources
    out: oci.Resources = {}
    mem: oci.MemoryResources = {}
    if new.memory or new.memory_swap:
        mem["limit"] = res.memory if res.memory > 0 else -1
        mem["swap"] = res.memory_swap if res.memory_swap else -1
    if new.memory_reservation:
        mem["reservation"] = res.memory_reservation
    if mem:
        out["memory"] = mem
    cpu: oci.CpuResources = {}
    if new.cpu_shares:
        cpu["shares"] = res.cpu_shares
    if new.nano_cpus or new.cpu_quota or new.cpu_period:
        quota = res.cpu_quota or res.nano_cpus * 100_000 // 1_000_000_000
        cpu["quota"] = quota if quota > 0 else -1
        cpu["period"] = res.cpu_period or 100_000
    if new.cpuset_cpus:
        cpu["cpus"] = res.cpuset_cpus
    if new.cpuset_mems:
        cpu["mems"] = res.cpuset_mems
    if cpu:
        out["cpu"] = cpu
    if u.pids_limit_given:
        out["pids"] = {"limit": res.pids_limit if res.pids_limit > 0 else 0}
    if new.blkio_weight:
        out["blockIO"] = {"weight": res.blkio_weight}
    return out
