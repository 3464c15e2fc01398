"""A container's resource limits: what a create or ``update`` asks for, and the spec
options that hand them to the runtime (``linux.resources`` in the OCI spec).

    Resources            memory, CPU, pids (docker's HostConfig resource fields)
    validate(res)        docker's refusals at create
    spec_opts(res)       the runtime.spec options, in the order they apply
"""

from __future__ import annotations

from dataclasses import dataclass

from berth.errors import InvalidArgument
from berth.runtime import spec as runtime_spec
from berth.runtime.spec import SpecOpt

MIN_MEMORY = 6 * 1024 * 1024


@dataclass(frozen=True)
class Resources:
    memory: int = 0
    memory_swap: int = 0
    memory_reservation: int = 0
    nano_cpus: int = 0
    cpu_shares: int = 0
    cpu_quota: int = 0
    cpu_period: int = 0
    pids_limit: int = 0


def validate(res: Resources) -> None:
    """Refuse what docker refuses at create."""
    if 0 < res.memory < MIN_MEMORY:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")


def spec_opts(res: Resources) -> list[SpecOpt]:
    """Memory, CPU and pids limits; ``--cpus`` (nano CPUs) is a quota of a 100 ms period
    unless a quota is given."""
    cpu_quota = res.cpu_quota or res.nano_cpus * 100_000 // 1_000_000_000
    return [runtime_spec.with_memory(res.memory, res.memory_swap, res.memory_reservation),
            runtime_spec.with_cpu(res.cpu_shares, cpu_quota, res.cpu_period),
            runtime_spec.with_pids_limit(res.pids_limit)]
