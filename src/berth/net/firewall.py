"""The one module that runs iptables: berth's chains, the rules of each network and the
published ports of each container, applied in one ``iptables-restore --noflush -w`` batch
per change and read back with ``iptables-save`` (argv lists, never a shell).

Chains (``P`` is the prefix, ``BERTH`` in production, ``BT<random>`` in tests)::

    nat    PREROUTING  -m addrtype --dst-type LOCAL -j P     published ports (DNAT), for
           OUTPUT      -m addrtype --dst-type LOCAL -j P     outside and local senders
           POSTROUTING -j P-POSTROUTING                      masquerade: subnets leaving,
                                                             127.0.0.0/8 into a bridge,
                                                             hairpin
    filter FORWARD     -j P-FORWARD   (inserted as rule 1)
           P-FORWARD   -j P-ISOLATION-1 (its rule 1), then per network accepts/drops and
                       per port accepts
           P-ISOLATION-1  -i <bridge> ! -o <bridge> -j P-ISOLATION-2   (one per network)
           P-ISOLATION-2  -o <bridge> -j DROP                           (one per network):
                       no traffic between two different berth bridges (docker's isolation)

Every rule but the chain jumps carries ``-m comment --comment "P:<key>"``; a key is a
network id (``add_network``) or a container id (``publish``), so ``remove_network``,
``unpublish`` and the start-up reconcile (``keys``) find exactly their own rules.

Beside the host firewall and Docker: berth's chains and jumps never touch anyone else's
rules, and Docker's (``DOCKER*``) never touch berth's. Docker sets the FORWARD policy to
DROP and inserts its own jumps at the top of FORWARD when it starts; berth's jump is
inserted first when berth sets up and, wherever it ends up, only accepts traffic of
berth's bridges, so neither engine's containers lose their network to the other. As with
Docker, DNAT happens in PREROUTING, before the host's INPUT chain, so ufw or firewalld
rules on INPUT do not see published ports: publish on ``127.0.0.1`` to keep a port local.
Nothing here is removed when berthd stops, so published ports keep working (live restore).

A DNAT rule applies to every sender, the containers of the bridge included (docker's
``userland-proxy: false`` hairpin): a container reaching its own published port through
a host address has its source masqueraded so the reply comes back through the host;
another container's reply is un-NATed on the bridge by br_netfilter.
"""

from __future__ import annotations

import ipaddress
import logging
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from berth.errors import BerthError, InvalidArgument

log = logging.getLogger(__name__)

PROTOCOLS = ("tcp", "udp", "sctp")
_KEY = re.compile(r"[A-Za-z0-9_.-]+\Z")
_TARGET = re.compile(r"\s-j\s+(\S+)")


class FirewallError(BerthError):
    """iptables is missing or refused a batch."""


@dataclass(frozen=True)
class PortRule:
    proto: str
    host_ip: str
    host_port: int
    container_ip: str
    container_port: int


Batch = dict[str, list[str]]  # table → iptables-restore lines


class Firewall:
    """berth's rules under one chain prefix; every method is synchronous and safe to call
    from any thread (one batch at a time per instance; iptables' own lock across
    processes)."""

    def __init__(self, prefix: str = "BERTH") -> None:
        self.prefix = prefix
        self.nat = prefix
        self.postrouting = f"{prefix}-POSTROUTING"
        self.forward = f"{prefix}-FORWARD"
        self.isolation1 = f"{prefix}-ISOLATION-1"
        self.isolation2 = f"{prefix}-ISOLATION-2"
        self._lock = threading.Lock()

    # ── host state ───────────────────────────────────────────────────────────────────

    def available(self) -> bool:
        """Whether iptables (legacy or nft) works here, nat table included."""
        if not (shutil.which("iptables-save") and shutil.which("iptables-restore")):
            return False
        try:
            subprocess.run(["iptables-save", "-t", "nat"], check=True, capture_output=True,
                           timeout=30)
        except (OSError, subprocess.SubprocessError):
            return False
        return True

    def setup(self) -> None:
        """Make berth's chains and jumps where missing; never duplicates."""
        with self._lock:
            state = _save(("nat", "filter"))
            batch: Batch = {"nat": [], "filter": []}
            chains = {"nat": (self.nat, self.postrouting),
                      "filter": (self.forward, self.isolation1, self.isolation2)}
            for table, names in chains.items():
                have = _chains(state[table])
                batch[table] += [f":{c} - [0:0]" for c in names if c not in have]
            nat, fwd = state["nat"], state["filter"]
            local = "-m addrtype --dst-type LOCAL"
            for chain in ("PREROUTING", "OUTPUT"):
                if not _jumps(nat, chain, self.nat):
                    batch["nat"].append(f"-A {chain} {local} -j {self.nat}")
            if not _jumps(nat, "POSTROUTING", self.postrouting):
                batch["nat"].append(f"-A POSTROUTING -j {self.postrouting}")
            if not _jumps(fwd, "FORWARD", self.forward):
                batch["filter"].append(f"-I FORWARD 1 -j {self.forward}")
            if not _jumps(fwd, self.forward, self.isolation1):
                batch["filter"].append(f"-I {self.forward} 1 -j {self.isolation1}")
            _restore(batch)

    def teardown(self) -> None:
        """Remove every chain, jump and rule of this prefix (tests; idempotent)."""
        with self._lock:
            state = _save(("nat", "filter"))
            batch: Batch = {}
            for table, lines in state.items():
                ours = [c for c in _chains(lines) if self._ours(c)]
                out = [_delete(line) for line in lines if line.startswith("-A ")
                       and not self._ours(line.split()[1]) and self._ours(_target(line))]
                out += [f"-F {c}" for c in ours] + [f"-X {c}" for c in ours]
                batch[table] = out
            _restore(batch)

    def _ours(self, chain: str) -> bool:
        return chain == self.prefix or chain.startswith(self.prefix + "-")

    # ── rules by key ─────────────────────────────────────────────────────────────────

    def add_network(self, key: str, bridge: str, subnet: str, internal: bool) -> None:
        """The rules of one bridge network; replaces any it had (idempotent)."""
        net = str(ipaddress.IPv4Network(subnet, strict=False))
        tag = self._tag(key)
        b = bridge
        nat = [f"-A {self.postrouting} -s 127.0.0.0/8 -o {b} {tag} -j MASQUERADE"]
        filt = [f"-A {self.isolation1} -i {b} ! -o {b} {tag} -j {self.isolation2}",
                f"-A {self.isolation2} -o {b} {tag} -j DROP"]
        if internal:
            filt += [f"-A {self.forward} -i {b} -o {b} {tag} -j ACCEPT",
                     f"-A {self.forward} -i {b} {tag} -j DROP",
                     f"-A {self.forward} -o {b} {tag} -j DROP"]
        else:
            nat.insert(0, f"-A {self.postrouting} -s {net} ! -o {b} {tag} -j MASQUERADE")
            filt += [f"-A {self.forward} -o {b} -m conntrack --ctstate RELATED,ESTABLISHED "
                     f"{tag} -j ACCEPT",
                     f"-A {self.forward} -i {b} {tag} -j ACCEPT"]
        self._replace(key, {"nat": nat, "filter": filt})

    def remove_network(self, key: str) -> None:
        self._replace(key, {})

    def publish(self, key: str, bridge: str, rules: Sequence[PortRule]) -> None:
        """DNAT each rule's host address and port to the container (replacing what
        ``key`` had), with hairpin and the FORWARD accept: one iptables-restore."""
        tag = self._tag(key)
        nat: list[str] = []
        filt: list[str] = []
        for r in rules:
            if r.proto not in PROTOCOLS:
                raise InvalidArgument(f"invalid proto: {r.proto}")
            host = ipaddress.ip_address(r.host_ip or "0.0.0.0")
            if host.version != 4:
                continue  # IPv6 host addresses are the userland proxy's
            cip = str(ipaddress.IPv4Address(r.container_ip))
            dst = "" if host.is_unspecified else f"-d {host}/32 "
            port = f"-p {r.proto} -m {r.proto} --dport"
            dnat = f"{tag} -j DNAT --to-destination {cip}:{r.container_port}"
            nat += [f"-A {self.nat} {dst}{port} {r.host_port} {dnat}",
                    f"-A {self.postrouting} -s {cip}/32 -d {cip}/32 {port} "
                    f"{r.container_port} {tag} -j MASQUERADE"]
            filt.append(f"-A {self.forward} -d {cip}/32 ! -i {bridge} -o {bridge} {port} "
                        f"{r.container_port} {tag} -j ACCEPT")
        self._replace(key, {"nat": nat, "filter": filt})

    def unpublish(self, key: str) -> None:
        self._replace(key, {})

    def keys(self) -> set[str]:
        """The keys that have rules now (reconcile at daemon start)."""
        pattern = re.compile(rf'--comment "?{re.escape(self.prefix)}:([A-Za-z0-9_.-]+)"?')
        with self._lock:
            state = _save(("nat", "filter"))
        return {m.group(1) for lines in state.values() for line in lines
                if (m := pattern.search(line))}

    def _tag(self, key: str) -> str:
        if not _KEY.match(key):
            raise InvalidArgument(f"invalid firewall key {key!r}")
        return f'-m comment --comment "{self.prefix}:{key}"'

    def _replace(self, key: str, add: Batch) -> None:
        """Delete every rule tagged ``key`` and append ``add``, in one batch."""
        tag = self._tag(key)
        needle = tag.split("--comment ", 1)[1]
        bare = needle.strip('"')
        with self._lock:
            state = _save(("nat", "filter"))
            batch: Batch = {}
            for table, lines in state.items():
                old = _numbered_deletes(lines, lambda line: _tagged(line, needle, bare))
                batch[table] = old + add.get(table, [])
            _restore(batch)


# ── iptables-save / iptables-restore ─────────────────────────────────────────────────


def _save(tables: Iterable[str]) -> dict[str, list[str]]:
    out = {}
    for table in tables:
        out[table] = _run(["iptables-save", "-t", table], None).splitlines()
    return out


def _restore(batch: Batch) -> None:
    text = "".join(f"*{table}\n" + "".join(line + "\n" for line in lines) + "COMMIT\n"
                   for table, lines in batch.items() if lines)
    if text:
        _run(["iptables-restore", "--noflush", "-w"], text)


def _run(argv: list[str], stdin: str | None) -> str:
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                              timeout=60)
    except (OSError, subprocess.SubprocessError) as err:
        raise FirewallError(f"{argv[0]}: {err}") from err
    if done.returncode != 0:
        detail = done.stderr.strip() or f"exit status {done.returncode}"
        log.debug("%s failed on:\n%s", argv[0], stdin)
        raise FirewallError(f"{argv[0]}: {detail}")
    return done.stdout


def _chains(lines: Sequence[str]) -> list[str]:
    return [line[1:].split()[0] for line in lines if line.startswith(":")]


def _target(line: str) -> str:
    m = _TARGET.search(line)
    return m.group(1) if m else ""


def _jumps(lines: Sequence[str], chain: str, target: str) -> bool:
    return any(line.startswith(f"-A {chain} ") and _target(line) == target for line in lines)


def _tagged(line: str, needle: str, bare: str) -> bool:
    return (f"--comment {needle} " in line + " " or f"--comment {bare} " in line + " ")


def _numbered_deletes(lines: Sequence[str], match: Callable[[str], bool]) -> list[str]:
    """``-D <chain> <n>`` for each matching rule, last first in each chain so the numbers
    stay right as the batch runs. iptables-nft deletes by number in a third of the time it
    takes to delete by rule text; only berth writes to its chains, and ``Firewall._lock``
    keeps the numbers read by ``iptables-save`` valid until the batch is applied."""
    position: dict[str, int] = {}
    out = []
    for line in lines:
        if not line.startswith("-A "):
            continue
        chain = line.split()[1]
        position[chain] = position.get(chain, 0) + 1
        if match(line):
            out.append((chain, position[chain]))
    return [f"-D {chain} {n}" for chain, n in sorted(out, key=lambda c: (c[0], -c[1]))]


def _delete(line: str) -> str:
    """The ``-D`` twin of an ``iptables-save`` ``-A`` line."""
    return "-D" + line[2:]
