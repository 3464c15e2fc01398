"""A container's /etc/hosts, /etc/resolv.conf and /etc/hostname: their contents (pure
functions of what the container is and where it sits) and their writing.

    <data-root>/containers/<id>/hostname  hosts  resolv.conf   bound over /etc/<name>

At a start the files are written anew (write and rename: a new inode, bound by the new
run). A running container's hosts file changed under it (a container it links to got a
new address) is rewritten in place: truncate and write, since its bind mount holds the
inode and a rename would leave the container the old file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from berth.engine.containers.bundle import write_atomic

LOCALHOST = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""

EMBEDDED_DNS = "127.0.0.11"
# docker's fallback when the host has no nameserver a container can reach
DEFAULT_NAMESERVERS = ("8.8.8.8", "8.8.4.4")
ETC_FILES = ("hostname", "hosts", "resolv.conf")

_LOOPBACK = re.compile(r"^(127\.|::1$)")


@dataclass(frozen=True)
class HostResolv:
    """The host's /etc/resolv.conf, split as docker reads it."""

    nameservers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> HostResolv:
        ns: list[str] = []
        search: tuple[str, ...] = ()
        options: list[str] = []
        for line in text.splitlines():
            words = line.split("#", 1)[0].split()
            if len(words) < 2:
                continue
            if words[0] == "nameserver":
                ns.append(words[1])
            elif words[0] in ("search", "domain"):
                search = tuple(words[1:])
            elif words[0] == "options":
                options += words[1:]
        return cls(tuple(ns), search, tuple(options))

    @classmethod
    def read(cls, path: Path = Path("/etc/resolv.conf")) -> HostResolv:
        try:
            return cls.parse(path.read_text())
        except OSError:
            return cls()

    @property
    def reachable(self) -> tuple[str, ...]:
        """The nameservers a container's own network namespace can reach: loopback ones
        name the host's own, which the container's lo is not."""
        return tuple(n for n in self.nameservers if not _LOOPBACK.match(n))


@dataclass(frozen=True)
class DnsConfig:
    """--dns, --dns-search, --dns-option ("" tuples: the host's)."""

    servers: tuple[str, ...] = ()
    search: tuple[str, ...] = ()
    options: tuple[str, ...] = ()


def resolv_conf(host: HostResolv, dns: DnsConfig, embedded: bool) -> str:
    """docker's resolv.conf: ``embedded`` (user-defined networks) points at the embedded
    DNS server (it forwards to the upstreams, ``upstreams``); otherwise the --dns servers
    or the host's reachable ones (Google's when there are none)."""
    search = dns.search or host.search
    options = list(dns.options or host.options)
    if embedded:
        servers: Sequence[str] = (EMBEDDED_DNS,)
        if "ndots:0" not in options and not any(o.startswith("ndots:") for o in options):
            options.append("ndots:0")
    else:
        servers = dns.servers or host.reachable or DEFAULT_NAMESERVERS
    lines = [f"nameserver {s}" for s in servers]
    if search and search != (".",):
        lines.append("search " + " ".join(search))
    if options:
        lines.append("options " + " ".join(options))
    return "\n".join(lines) + "\n"


def upstreams(host: HostResolv, dns: DnsConfig) -> list[str]:
    """Where the embedded DNS server forwards what it does not know (docker's
    ExtDNS): the --dns servers, else the host's (reachable ones first), else Google's."""
    if dns.servers:
        return list(dns.servers)
    return list(host.reachable or host.nameservers or DEFAULT_NAMESERVERS)


@dataclass(frozen=True)
class HostsEntry:
    address: str
    names: tuple[str, ...]

    def line(self) -> str:
        return f"{self.address}\t{' '.join(self.names)}\n"


def hosts(own: Sequence[HostsEntry], links: Sequence[HostsEntry],
          extra: Sequence[HostsEntry]) -> str:
    """docker's /etc/hosts: localhost, --add-host entries, linked containers, then the
    container's own address(es) under its hostname."""
    return LOCALHOST + "".join(e.line() for e in (*extra, *links, *own))


def own_names(hostname: str, domainname: str) -> tuple[str, ...]:
    return (f"{hostname}.{domainname}", hostname) if domainname else (hostname,)


def write(container_dir: Path, files: dict[str, str]) -> list[tuple[str, str]]:
    """Write each /etc file of ``files`` (name → content) under ``container_dir``;
    return the (host file, container path) binds."""
    container_dir.mkdir(parents=True, exist_ok=True)
    binds = []
    for name, content in files.items():
        write_atomic(container_dir / name, content.encode())
        binds.append((str(container_dir / name), f"/etc/{name}"))
    return binds


def rewrite_in_place(path: Path, content: str) -> None:
    """Replace a bound file's content keeping its inode (the bind mount holds it)."""
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, content.encode(), 0)
    finally:
        os.close(fd)


def binds_of(container_dir: Path) -> list[tuple[str, str]]:
    """The binds of files already written (another container's, for container:<x>)."""
    return [(str(container_dir / n), f"/etc/{n}") for n in ETC_FILES
            if (container_dir / n).exists()]
