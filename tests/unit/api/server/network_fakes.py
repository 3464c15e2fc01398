"""``FakeNetworks``: an in-memory ``NetworkBackend`` over ``FakeContainerBackend``, for
route tests. It passes ``network_backend_suite.py``, as the real ``NetworkService`` does
(with the engine's messages and statuses), and computes its subnets with the engine's own
address arithmetic (``berth.net.ipam``) minus the host's routes.

No kernel is touched. A container's endpoints are its spec's, as with the real service
(``check`` plays the network preparer's part at create); a running container gets an
address on each of its networks on first sight and a host port for each binding
(ephemeral ones from 32768), dropped when it stops. A separate module from fakes.py,
which holds the container, exec and image fakes, for size.
"""

from __future__ import annotations

import builtins
import hashlib
import ipaddress
import secrets
from dataclasses import replace
from typing import TYPE_CHECKING

from berth.engine import clock
from berth.engine.containers.model import Container, ContainerSpec, EndpointConfig
from berth.engine.networks import model as m
from berth.engine.networks.model import (
    ContainerNetwork,
    Endpoint,
    IpamPool,
    Network,
    NetworkCreate,
    NetworkPruneReport,
    PublishedPort,
)
from berth.errors import BerthError, Conflict, Forbidden, InvalidArgument, NotFound
from berth.net import ipam

if TYPE_CHECKING:
    from tests.unit.api.server.fakes import FakeContainerBackend

POOLS = ("172.18.0.0/16", "172.19.0.0/14:16", "192.168.0.0/16:20")
FIRST_EPHEMERAL = 32768


class FakeNetworks:
    def __init__(self, containers: FakeContainerBackend) -> None:
        self._containers = containers
        containers.checks.append(self.check)
        self._networks: dict[str, Network] = {}
        self._addresses: dict[tuple[str, str], str] = {}  # (network id, cid) → ip
        for name, driver in ((m.BRIDGE, "bridge"), (m.HOST, "host"), (m.NONE, "null")):
            pools = (IpamPool("172.18.0.0/16", "172.18.0.1"),) if driver == "bridge" else ()
            self._add(Network(id=secrets.token_hex(32), name=name, driver=driver,
                              created=clock.rfc3339(), pools=pools,
                              bridge="berth0" if pools else ""))

    def _add(self, n: Network) -> Network:
        self._networks[n.id] = n
        return n

    # ── lookups ──────────────────────────────────────────────────────────────────────

    def get(self, ref: str) -> Network:
        if ref in self._networks:
            return self._networks[ref]
        for n in self._networks.values():
            if n.name == ref:
                return n
        matches = [n for n in self._networks.values() if ref and n.id.startswith(ref)]
        if len(matches) == 1:
            return matches[0]
        if len(matches) > 1:
            raise InvalidArgument(f"network {ref} is ambiguous ({len(matches)} matches "
                                  "found on name)")
        raise NotFound(f"network {ref} not found")

    def list(self) -> builtins.list[Network]:
        return sorted(self._networks.values(), key=lambda n: n.created)

    def attached(self, network_id: str) -> builtins.list[tuple[str, Endpoint]]:
        return [(c.id, e) for c in self._containers.list()
                for e in self.container_network(c).endpoints if e.network_id == network_id]

    def _live(self, network_id: str) -> bool:
        return any(e.endpoint_id for _, e in self.attached(network_id))

    # ── create, remove, prune ────────────────────────────────────────────────────────

    async def create(self, req: NetworkCreate) -> Network:
        if req.driver in ("host", "null"):
            raise Forbidden(f'only one instance of "{req.driver}" network is allowed')
        if req.driver not in ("bridge", ""):
            raise NotFound(f"could not find plugin {req.driver} in v1 plugin registry: "
                           "plugin not found")
        if req.enable_ipv6:
            raise InvalidArgument("berth has no IPv6 networks: EnableIPv6 is not supported")
        if not req.name:
            raise InvalidArgument("network name cannot be empty")
        if any(n.name == req.name for n in self._networks.values()):
            raise Conflict(f"network with name {req.name} already exists")
        nid = secrets.token_hex(32)
        return self._add(Network(
            id=nid, name=req.name, driver="bridge", created=clock.rfc3339(),
            internal=req.internal, attachable=req.attachable, labels=req.labels,
            options=req.options, pools=self._pools(req), bridge=f"br-{nid[:12]}"))

    def _taken(self) -> builtins.list[ipaddress.IPv4Network]:
        return [ipaddress.IPv4Network(n.pools[0].subnet) for n in self._networks.values()
                if n.pools]

    def _pools(self, req: NetworkCreate) -> tuple[IpamPool, ...]:
        if not req.pools:
            subnet = ipam.pick_subnet(list(POOLS), self._taken())
            return (IpamPool(str(subnet), str(subnet.network_address + 1)),)
        p = req.pools[0]
        net, gw, range_ = ipam.check_pool(p.subnet, p.gateway, p.ip_range)
        if any(ipam.overlaps(net, other) for other in self._taken()):
            raise Forbidden("Pool overlaps with other one on this address space")
        return (IpamPool(str(net), str(gw), str(range_) if range_ else ""),)

    async def remove(self, ref: str) -> None:
        n = self.get(ref)
        if n.predefined:
            raise Forbidden(f"{n.name} is a pre-defined network and cannot be removed")
        if self._live(n.id):
            raise Conflict(f"error while removing network: network {n.name} id {n.id} "
                           "has active endpoints")
        del self._networks[n.id]

    async def prune(self, labels: builtins.list[str], until: float | None
                    ) -> NetworkPruneReport:
        deleted = []
        for n in self.list():
            if n.predefined or self._live(n.id) or not _label_match(n, labels):
                continue
            if until is not None and clock.parse(n.created) >= until:
                continue
            await self.remove(n.id)
            deleted.append(n.name)
        return NetworkPruneReport(tuple(deleted))

    # ── connect, disconnect ──────────────────────────────────────────────────────────

    async def connect(self, ref: str, container: str, config: EndpointConfig) -> None:
        n = self.get(ref)
        c = self._containers.get(container)
        mode = c.spec.network_mode
        if n.name == m.HOST or mode == m.HOST:
            raise Forbidden("container cannot be disconnected from host network or "
                            "connected to host network")
        if n.name == m.NONE or mode == m.NONE:
            raise Forbidden("container cannot be connected to multiple networks with one "
                            "of the networks in private (none) mode")
        if mode.startswith("container:"):
            raise Forbidden("container sharing network namespace with another container "
                            "or host cannot be connected to any other network")
        if any(e.network == n.id for e in c.spec.endpoints):
            raise Forbidden(f"endpoint with name {c.name} already exists in network "
                            f"{n.name}")
        self._set_endpoints(c, (*c.spec.endpoints, replace(config, network=n.id)))

    async def disconnect(self, ref: str, container: str, force: bool = False) -> None:
        n = self.get(ref)
        c = self._containers.get(container)
        if n.name == m.HOST or c.spec.network_mode == m.HOST:
            raise Forbidden("container cannot be disconnected from host network or "
                            "connected to host network")
        if not any(e.network == n.id for e in c.spec.endpoints):
            raise BerthError(f"container {c.id} is not connected to network {n.name}")
        self._addresses.pop((n.id, c.id), None)
        self._set_endpoints(c, tuple(e for e in c.spec.endpoints if e.network != n.id))

    def _set_endpoints(self, c: Container, endpoints: tuple[EndpointConfig, ...]) -> None:
        self._containers.replace_spec(c.id, replace(c.spec, endpoints=endpoints))

    # ── a container's view ───────────────────────────────────────────────────────────

    def check(self, spec: ContainerSpec) -> ContainerSpec:
        """The network preparer's ``check``, in short: the mode's network first, then
        the others asked for, names made ids; a ``container:`` mode has none."""
        try:
            return self._check(spec)
        except NotFound as err:  # as the preparer: a 400, or docker's CLI pulls the image
            raise InvalidArgument(err.message) from err

    def _check(self, spec: ContainerSpec) -> ContainerSpec:
        mode = "none" if spec.network_disabled else (spec.network_mode or "default")
        if mode.startswith("container:"):
            target = self._containers.get(mode.removeprefix("container:"))
            return replace(spec, network_mode="container:" + target.id, endpoints=())
        primary = self.get(m.BRIDGE if mode in ("default", m.BRIDGE) else mode)
        endpoints = {primary.id: EndpointConfig(primary.id)}
        for e in spec.endpoints:
            endpoints[self.get(e.network).id] = replace(e, network=self.get(e.network).id)
        return replace(spec, network_mode=mode, endpoints=tuple(endpoints.values()))

    def container_network(self, container: Container) -> ContainerNetwork:
        c = container
        running = c.state.running
        endpoints = tuple(self._endpoint(c, cfg, running) for cfg in c.spec.endpoints)
        if not running:
            for key in [k for k in self._addresses if k[1] == c.id]:
                del self._addresses[key]
        ports = tuple(PublishedPort(b.container_port, b.proto, b.host_ip or "0.0.0.0",
                                    b.host_port or FIRST_EPHEMERAL + i)
                      for i, b in enumerate(c.spec.port_bindings)) if running else ()
        bridged = running and any(e.ip_address for e in endpoints)
        return ContainerNetwork(sandbox_id=c.id if bridged else "",
                                sandbox_key=f"/run/berth/netns/{c.id}" if bridged else "",
                                endpoints=endpoints, ports=ports,
                                exposed=c.spec.exposed_ports)

    def _endpoint(self, c: Container, cfg: EndpointConfig, running: bool) -> Endpoint:
        n = self._networks.get(cfg.network)
        name = n.name if n else cfg.network
        base = Endpoint(network_id=cfg.network, network_name=name, aliases=cfg.aliases,
                        links=cfg.links, ipam_ipv4_address=cfg.ipv4_address)
        if not running or n is None or not n.pools:
            return base
        subnet = ipaddress.IPv4Network(n.pools[0].subnet)
        ip = self._address(n, c.id, cfg.ipv4_address, subnet)
        names = () if n.predefined else tuple(dict.fromkeys((c.name, *cfg.aliases,
                                                              c.id[:12])))
        return replace(base, endpoint_id=hashlib.sha256(f"{n.id}{c.id}".encode()).hexdigest(),
                       ip_address=ip, prefix_len=subnet.prefixlen,
                       gateway=n.pools[0].gateway, mac_address=_mac(ip), dns_names=names)

    def _address(self, n: Network, cid: str, wanted: str,
                 subnet: ipaddress.IPv4Network) -> str:
        key = (n.id, cid)
        if key not in self._addresses:
            used = {ip for (nid, _), ip in self._addresses.items() if nid == n.id}
            free = (str(h) for h in subnet.hosts() if str(h) != n.pools[0].gateway)
            self._addresses[key] = wanted or next(ip for ip in free if ip not in used)
        return self._addresses[key]


def _mac(ip: str) -> str:
    """docker's: 02:42 and the IPv4 address."""
    return "02:42:" + ":".join(f"{int(b):02x}" for b in ip.split("."))


def _label_match(n: Network, filters: builtins.list[str]) -> bool:
    labels = dict(n.labels)
    for f in filters:
        negate = "!=" in f
        key, _, value = f.replace("!=", "=", 1).partition("=")
        if (key in labels and (not value or labels[key] == value)) == negate:
            return False
    return True
