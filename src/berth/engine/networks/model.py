"""What a network and a container's endpoints are, as the engine sees them: frozen
dataclasses, no wire shapes (api/types/networks.py has docker's JSON)."""

from __future__ import annotations

from dataclasses import dataclass, field

# The networks every daemon has (docker's predefined ones): they cannot be removed.
BRIDGE = "bridge"
HOST = "host"
NONE = "none"
PREDEFINED = (BRIDGE, HOST, NONE)


@dataclass(frozen=True)
class IpamPool:
    subnet: str  # "172.18.0.0/16"
    gateway: str = ""  # "" → the subnet's first address
    ip_range: str = ""  # addresses for containers come from here ("" → the subnet)


@dataclass(frozen=True)
class NetworkCreate:
    """``POST /networks/create``, already checked for shape."""

    name: str
    driver: str = "bridge"  # "bridge" only for user networks; "host"/"null" predefined
    internal: bool = False  # no route out: no masquerade, forwarding only inside it
    attachable: bool = False
    enable_ipv6: bool = False  # refused when True: berth has no IPv6 networks yet
    labels: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, str], ...] = ()  # driver options (com.docker.network.*)
    pools: tuple[IpamPool, ...] = ()  # () → one subnet picked from the daemon's pool
    check_duplicate: bool = True


@dataclass(frozen=True)
class Network:
    id: str  # 64 hex
    name: str
    driver: str  # "bridge" | "host" | "null"
    created: str  # RFC 3339 with nanoseconds
    scope: str = "local"
    internal: bool = False
    attachable: bool = False
    labels: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, str], ...] = ()
    pools: tuple[IpamPool, ...] = ()  # the chosen subnet(s), gateway filled in
    bridge: str = ""  # the host's bridge device ("berth0", "br-<id12>"); "" for host/none

    @property
    def predefined(self) -> bool:
        return self.name in PREDEFINED


@dataclass(frozen=True)
class PublishedPort:
    """A port as published for a running container: the host side actually bound."""

    container_port: int
    proto: str
    host_ip: str
    host_port: int


@dataclass(frozen=True)
class Endpoint:
    """A container's place on one network (docker's EndpointSettings). The address
    fields are empty while the container is not running."""

    network_id: str
    network_name: str
    endpoint_id: str = ""
    aliases: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()
    ipam_ipv4_address: str = ""  # what was asked for (IPAMConfig)
    ip_address: str = ""
    prefix_len: int = 0
    gateway: str = ""
    mac_address: str = ""
    dns_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class ContainerNetwork:
    """A container's NetworkSettings: its sandbox, endpoints (primary first) and ports."""

    sandbox_id: str = ""
    sandbox_key: str = ""  # the netns path ("" when none)
    endpoints: tuple[Endpoint, ...] = ()
    ports: tuple[PublishedPort, ...] = ()  # while running
    exposed: tuple[str, ...] = field(default=())  # "80/tcp", shown as null in Ports


@dataclass(frozen=True)
class NetworkPruneReport:
    deleted: tuple[str, ...] = ()  # names
