"""``linux.memoryPolicy``: the NUMA policy init sets with set_mempolicy(2) before exec,
which the container's process inherits (runc 1.3's ``memoryPolicy``)."""

from __future__ import annotations

from berth.runtime.linux import syscalls as sc
from berth.runtime.linux.validate import MemoryPolicy

MODES = {"MPOL_DEFAULT": 0, "MPOL_PREFERRED": 1, "MPOL_BIND": 2, "MPOL_INTERLEAVE": 3,
         "MPOL_LOCAL": 4, "MPOL_PREFERRED_MANY": 5, "MPOL_WEIGHTED_INTERLEAVE": 6}
FLAGS = {"MPOL_F_NUMA_BALANCING": 1 << 13, "MPOL_F_RELATIVE_NODES": 1 << 14,
         "MPOL_F_STATIC_NODES": 1 << 15}


def parse_nodes(text: str) -> list[int]:
    """A node list as cpuset writes it: "0-3,7"."""
    nodes: list[int] = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        low, _, high = part.partition("-")
        try:
            first = int(low)
            last = int(high) if high else first
        except ValueError:
            raise ValueError(f"invalid memory policy nodes {text!r}") from None
        if first < 0 or last < first:
            raise ValueError(f"invalid memory policy nodes {text!r}")
        nodes.extend(range(first, last + 1))
    return nodes


def apply(policy: MemoryPolicy) -> None:
    mode = MODES[policy["mode"]]
    for flag in policy.get("flags") or []:
        mode |= FLAGS[flag]
    try:
        sc.set_mempolicy(mode, parse_nodes(policy.get("nodes", "")))
    except OSError as err:
        raise OSError(err.errno, f"set_mempolicy {policy['mode']} nodes "
                      f"{policy.get('nodes', '')!r}: {(err.strerror or '').lower()}"
                      ) from None
