"""The host networking a benchmark run touches: the bridges it makes, the iptables chains
its daemons make, the FORWARD policy dockerd may flip. Cleanup removes only what this run
added (chains absent before it started, bridges named with its tag).

dockerd's chain names are fixed (DOCKER, DOCKER-USER, DOCKER-ISOLATION-STAGE-*, ...), so a
dockerd with iptables cannot share the host with another one: :func:`check_no_docker`
refuses to start ours next to existing DOCKER chains. berthd gets its own chain prefix and
bridge name (``BB<tag>``, ``bb<tag>``) through its daemon.toml.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
from dataclasses import dataclass, field

from host import BenchError, log, run_checked

TABLES = ("nat", "filter")


def chains(table: str) -> set[str]:
    out = run_checked(["iptables-save", "-t", table], timeout=30)
    return {line[1:].split()[0] for line in out.splitlines() if line.startswith(":")}


def remove_chains(table: str, names: set[str]) -> None:
    """Drop the jumps to ``names`` from other chains, then flush and delete them."""
    if not names:
        return
    out = run_checked(["iptables-save", "-t", table], timeout=30)
    for line in out.splitlines():
        words = line.split()
        if line.startswith("-A ") and words[1] not in names and \
                any(f"-j {n}" in line and line.split(f"-j {n}")[1][:1] in ("", " ")
                    for n in names):
            _quiet(["iptables", "-w", "-t", table, "-D", *words[1:]])
    for name in names:
        _quiet(["iptables", "-w", "-t", table, "-F", name])
    for name in names:
        _quiet(["iptables", "-w", "-t", table, "-X", name])


def _quiet(argv: list[str]) -> None:
    try:
        run_checked(argv, timeout=30)
    except BenchError as err:
        log(f"cleanup: {err}")


def check_no_docker() -> None:
    if "DOCKER" in chains("nat") or "DOCKER" in chains("filter"):
        raise BenchError("iptables already has DOCKER chains (a dockerd runs, or ran): the "
                         "bench's dockerd would share them; stop it or flush them first")


def free_subnet(stem: str = "10.89") -> ipaddress.IPv4Network:
    """A /24 of ``stem``.0.0/16 that no host route touches."""
    routes = json.loads(run_checked(["ip", "-j", "-4", "route", "show", "table", "all"]))
    taken = []
    for route in routes:
        dst = route.get("dst", "")
        if dst and dst != "default":
            taken.append(ipaddress.ip_network(dst, strict=False))
    for _ in range(100):
        net = ipaddress.IPv4Network(f"{stem}.{secrets.randbelow(250) + 1}.0/24")
        if not any(net.overlaps(t) for t in taken):
            return net
    raise BenchError(f"no free {stem}.x.0/24")


@dataclass
class HostNet:
    """What one run added: call :meth:`snapshot` before starting daemons, :meth:`restore`
    at cleanup."""

    bridges: list[str] = field(default_factory=list)
    subnets: list[str] = field(default_factory=list)
    before: dict[str, set[str]] = field(default_factory=dict)
    forward_policy: str = ""
    ip_forward: str = ""

    def snapshot(self) -> None:
        self.before = {t: chains(t) for t in TABLES}
        out = run_checked(["iptables-save", "-t", "filter"], timeout=30)
        self.forward_policy = next((line.split()[1] for line in out.splitlines()
                                    if line.startswith(":FORWARD ")), "ACCEPT")
        with open("/proc/sys/net/ipv4/ip_forward") as f:
            self.ip_forward = f.read().strip()

    def bridge(self, name: str, subnet: ipaddress.IPv4Network) -> str:
        """A bridge with the subnet's first address (dockerd ``--bridge`` wants one)."""
        run_checked(["ip", "link", "add", name, "type", "bridge"])
        self.bridges.append(name)
        self.subnets.append(str(subnet))
        run_checked(["ip", "addr", "add", f"{subnet[1]}/{subnet.prefixlen}", "dev", name])
        run_checked(["ip", "link", "set", name, "up"])
        return str(subnet)

    def _remove_rules_naming(self, table: str) -> None:
        """dockerd's own rules in the built-in chains (FORWARD accepts, POSTROUTING
        masquerades): those naming our bridges or subnets."""
        marks = [*self.bridges, *self.subnets]
        out = run_checked(["iptables-save", "-t", table], timeout=30)
        for line in out.splitlines():
            words = line.split()
            if line.startswith("-A ") and any(m in words for m in marks):
                _quiet(["iptables", "-w", "-t", table, "-D", *words[1:]])

    def forget_bridge(self, name: str) -> None:
        """A bridge a daemon made that cleanup must remove too."""
        self.bridges.append(name)

    def restore(self) -> None:
        for table in TABLES:
            if table in self.before:
                remove_chains(table, chains(table) - self.before[table])
            self._remove_rules_naming(table)
        if self.forward_policy:
            _quiet(["iptables", "-w", "-P", "FORWARD", self.forward_policy])
        if self.ip_forward:
            with open("/proc/sys/net/ipv4/ip_forward", "w") as f:
                f.write(self.ip_forward)
        for name in self.bridges:
            links = json.loads(run_checked(["ip", "-j", "link", "show"]))
            for link in links:
                if link.get("master") == name:
                    _quiet(["ip", "link", "del", link["ifname"]])
            if any(link["ifname"] == name for link in links):
                _quiet(["ip", "link", "del", name])
