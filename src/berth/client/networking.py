"""The network part of a create body, and the endpoint settings ``network connect`` sends.

Docker spreads one container's networking over three places of ``POST /containers/create``:
``Config`` (``ExposedPorts``, the deprecated ``MacAddress``), ``HostConfig`` (mode, port
bindings, links, DNS, extra hosts) and ``NetworkingConfig.EndpointsConfig`` (per network:
aliases, a fixed address, per-network links, the MAC). ``ContainerNetworking`` holds them
as one value so ``ContainerSpec`` gains a field, not a dozen, and writes each where docker's
CLI puts it (``fill``).
"""

from __future__ import annotations

from berth.client.models import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Final


class PortBinding(Value):
    """One ``HostConfig.PortBindings`` entry: ``HostIp`` ("" for the daemon's default
    bind address) and ``HostPort`` ("" for a free one, "8000-8010" for a free one of a
    range)."""

    __slots__ = ("host_ip", "host_port")
    host_ip: Final[str]
    host_port: Final[str]

    def __init__(self, host_ip: str = "", host_port: str = "") -> None:
        self.host_ip = host_ip
        self.host_port = host_port

    def to_json(self) -> dict[str, str]:
        return {"HostIp": self.host_ip, "HostPort": self.host_port}


class EndpointConfig(Value):
    """``EndpointSettings`` as a client sends them (create's ``EndpointsConfig`` values,
    connect's ``EndpointConfig``): only what the caller set goes on the wire."""

    __slots__ = ("aliases", "ipv4_address", "links", "mac_address")
    aliases: Final[tuple[str, ...]]
    links: Final[tuple[str, ...]]
    ipv4_address: Final[str]
    mac_address: Final[str]

    def __init__(self, aliases: tuple[str, ...] = (), links: tuple[str, ...] = (),
                 ipv4_address: str = "", mac_address: str = "") -> None:
        self.aliases = aliases
        self.links = links
        self.ipv4_address = ipv4_address
        self.mac_address = mac_address

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {}
        if self.ipv4_address:
            doc["IPAMConfig"] = {"IPv4Address": self.ipv4_address}
        if self.links:
            doc["Links"] = list(self.links)
        if self.aliases:
            doc["Aliases"] = list(self.aliases)
        if self.mac_address:
            doc["MacAddress"] = self.mac_address
        return doc


class ContainerNetworking(Value):
    """What ``run``/``create`` ask for about networks, ports, names and resolvers.

    ``port_bindings`` maps a container port ("80/tcp") to its host bindings, one key per
    container port: a published range is already expanded (docker's ``nat.ParsePortSpecs``
    runs in the client). ``endpoints`` is ``EndpointsConfig``, keyed by network name."""

    __slots__ = (
        "dns",
        "dns_options",
        "dns_search",
        "endpoints",
        "exposed_ports",
        "extra_hosts",
        "links",
        "mac_address",
        "network_mode",
        "port_bindings",
        "publish_all",
    )
    network_mode: Final[str]
    exposed_ports: Final[tuple[str, ...]]
    port_bindings: Final[dict[str, tuple[PortBinding, ...]]]
    publish_all: Final[bool]
    links: Final[tuple[str, ...]]
    dns: Final[tuple[str, ...]]
    dns_search: Final[tuple[str, ...]]
    dns_options: Final[tuple[str, ...]]
    extra_hosts: Final[tuple[str, ...]]
    mac_address: Final[str]
    endpoints: Final[dict[str, EndpointConfig]]

    def __init__(self, network_mode: str = "default", exposed_ports: tuple[str, ...] = (),
                 port_bindings: dict[str, tuple[PortBinding, ...]] | None = None,
                 publish_all: bool = False, links: tuple[str, ...] = (),
                 dns: tuple[str, ...] = (), dns_search: tuple[str, ...] = (),
                 dns_options: tuple[str, ...] = (), extra_hosts: tuple[str, ...] = (),
                 mac_address: str = "",
                 endpoints: dict[str, EndpointConfig] | None = None) -> None:
        self.network_mode = network_mode
        self.exposed_ports = exposed_ports
        self.port_bindings = {} if port_bindings is None else port_bindings
        self.publish_all = publish_all
        self.links = links
        self.dns = dns
        self.dns_search = dns_search
        self.dns_options = dns_options
        self.extra_hosts = extra_hosts
        self.mac_address = mac_address
        self.endpoints = {} if endpoints is None else endpoints

    def fill(self, config: dict[str, Any], host: dict[str, Any]) -> dict[str, Any]:
        """Write the Config and HostConfig fields into ``config``/``host`` as docker's
        CLI sends them; return ``NetworkingConfig``."""
        if self.exposed_ports:
            config["ExposedPorts"] = {port: {} for port in self.exposed_ports}
        if self.mac_address:
            config["MacAddress"] = self.mac_address  # API < 1.44 daemons read only this
        host["NetworkMode"] = self.network_mode
        host["PortBindings"] = {port: [b.to_json() for b in bindings]
                                for port, bindings in self.port_bindings.items()}
        host["PublishAllPorts"] = self.publish_all
        if self.links:
            host["Links"] = list(self.links)
        # docker never sends these three as null (moby#17779)
        host["Dns"], host["DnsSearch"] = list(self.dns), list(self.dns_search)
        host["DnsOptions"] = list(self.dns_options)
        if self.extra_hosts:
            host["ExtraHosts"] = list(self.extra_hosts)
        return {"EndpointsConfig": {name: ep.to_json()
                                    for name, ep in self.endpoints.items()}}
