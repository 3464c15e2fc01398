"""Legacy ``--link`` on the default bridge: the environment variables and /etc/hosts lines
a container gets for each container it links to (moby's ``daemon/links``).

For ``--link db:webdb`` from ``web``, with db at 172.18.0.5 exposing 5432/tcp::

    WEBDB_NAME=/web/webdb
    WEBDB_PORT=tcp://172.18.0.5:5432                 (the lowest exposed port)
    WEBDB_PORT_5432_TCP=tcp://172.18.0.5:5432
    WEBDB_PORT_5432_TCP_ADDR=172.18.0.5
    WEBDB_PORT_5432_TCP_PORT=5432
    WEBDB_PORT_5432_TCP_PROTO=tcp
    WEBDB_ENV_<var>=<value>                          (db's environment but HOME, PATH)

    /etc/hosts: 172.18.0.5	webdb <db's hostname> db

On user-defined networks a link is an alias the embedded DNS answers for the linking
container only: no variables, no hosts lines.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from berth.engine.networks.etcfiles import HostsEntry

_PROTO_ORDER = {"tcp": 0, "udp": 1, "sctp": 2}


@dataclass(frozen=True)
class LinkedContainer:
    """What a link needs of the container linked to."""

    name: str  # without "/"
    hostname: str
    address: str
    exposed: tuple[str, ...]  # "5432/tcp"
    env: tuple[str, ...]


def sorted_ports(exposed: Sequence[str]) -> list[tuple[int, str]]:
    """(port, proto) ascending, tcp before udp for one number (moby's nat.Sort)."""
    ports = []
    for spec in exposed:
        number, _, proto = spec.partition("/")
        first = number.split("-", 1)[0]
        if first.isdigit():
            ports.append((int(first), proto or "tcp"))
    return sorted(set(ports), key=lambda p: (p[0], _PROTO_ORDER.get(p[1], 9)))


def env_name(alias: str) -> str:
    return alias.upper().replace("-", "_").replace(".", "_")


def link_env(parent: str, alias: str, child: LinkedContainer) -> list[str]:
    """The variables one link puts in the linking container ``parent``'s environment."""
    prefix = env_name(alias)
    env = [f"{prefix}_NAME=/{parent}/{alias}"]
    ports = sorted_ports(child.exposed)
    if ports:
        port, proto = ports[0]
        env.append(f"{prefix}_PORT={proto}://{child.address}:{port}")
    for port, proto in ports:
        key = f"{prefix}_PORT_{port}_{proto.upper()}"
        env += [f"{key}={proto}://{child.address}:{port}", f"{key}_ADDR={child.address}",
                f"{key}_PORT={port}", f"{key}_PROTO={proto}"]
    for var in child.env:
        name, eq, value = var.partition("=")
        if eq and name not in ("HOME", "PATH"):
            env.append(f"{prefix}_ENV_{name}={value}")
    return env


def hosts_entry(alias: str, child: LinkedContainer) -> HostsEntry:
    names = [alias, child.hostname]
    if child.name != alias:
        names.append(child.name)
    return HostsEntry(child.address, tuple(dict.fromkeys(names)))
