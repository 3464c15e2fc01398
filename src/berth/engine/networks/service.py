"""The network service: networks (the predefined ``bridge``, ``host`` and ``none``, and
user-defined bridges), and containers joining and leaving them (api's NetworkBackend).

    daemon start:  start()      load or make the predefined networks, the firewall's
                                chains, forwarding, every network's bridge and rules
                   (containers.restore)
                   reconcile()  startup.py: drop what dead runs left, re-add what
                                running containers miss
    create:        check ─▶ subnet (given: checked; else picked from the daemon's pools,
                   clear of host routes and other networks) ─▶ bridge br-<id12> and its
                   rules ─▶ the record (name UNIQUE)
    connect:       under the container's lock (ContainerService.change_endpoints): the
                   spec gets the endpoint; a running container its interface at once

A container's runtime side (netns, veths, ports, DNS, /etc files) is the preparer's
(preparer.py); both share this service's ``Host`` and live endpoints.
"""

from __future__ import annotations

import asyncio
import builtins
import dataclasses
import ipaddress
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from berth.engine import clock
from berth.engine.containers.model import Container, EndpointConfig
from berth.engine.events import Event, EventBus
from berth.engine.networks import etcfiles, sandbox
from berth.engine.networks import model as m
from berth.engine.networks.live import LiveEndpoints
from berth.engine.networks.model import (
    ContainerNetwork,
    Endpoint,
    IpamPool,
    Network,
    NetworkCreate,
    NetworkPruneReport,
    PublishedPort,
)
from berth.engine.networks.sandbox import Attachment, Host
from berth.errors import BerthError, Conflict, Forbidden, InvalidArgument, NotFound
from berth.net import dns, ipam, links, netns
from berth.net import firewall as fw
from berth.store.metadata.networks import NetworkRecords

log = logging.getLogger(__name__)

BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
EndpointsChange = Callable[[Container], Awaitable[tuple[EndpointConfig, ...]]]


class Containers(Protocol):
    """What networking needs of the container service (late-bound: it is made after)."""

    def get(self, ref: str) -> Container: ...

    def list(self) -> builtins.list[Container]: ...

    async def change_endpoints(self, ref: str, change: EndpointsChange) -> Container: ...


@dataclass(frozen=True)
class NetworkOptions:
    """daemon.toml's networking keys, and where this daemon keeps its state."""

    exec_root: Path
    data_root: Path
    bridge: str = "berth0"
    bridge_subnet: str = ""
    default_address_pools: tuple[str, ...] = (
        "172.18.0.0/16", "172.19.0.0/14:16", "172.24.0.0/14:16", "192.168.0.0/16:20")
    default_bind_address: str = "0.0.0.0"
    userland_proxy: bool = False
    iptables: bool = True
    dns: tuple[str, ...] = ()  # of containers without --dns (dockerd's --dns)
    iptables_chain_prefix: str = "BERTH"


class NetworkService:
    def __init__(self, opts: NetworkOptions, records: NetworkRecords,
                 events: EventBus | None = None) -> None:
        self.opts = opts
        self._events = events or EventBus()
        self._records = records
        self._networks: dict[str, Network] = {}
        firewall = fw.Firewall(opts.iptables_chain_prefix) if opts.iptables else None
        self.host = Host(records, firewall, opts.exec_root / "netns",
                         opts.exec_root / "proxy", sandbox.veth_prefix(opts.bridge))
        self.live = LiveEndpoints()
        self.dns = dns.DnsServer(self._resolve)
        self._containers: Containers | None = None
        self._lock = asyncio.Lock()  # creates and removes of networks, one at a time

    def set_containers(self, containers: Containers) -> None:
        self._containers = containers

    @property
    def containers(self) -> Containers:
        assert self._containers is not None, "daemon.py binds the container service"
        return self._containers

    # ── daemon start ─────────────────────────────────────────────────────────────────

    async def start(self) -> None:
        """Load the networks, make the predefined ones, ready the host: one thread hop."""
        await asyncio.to_thread(self._start_sync)

    def _start_sync(self) -> None:
        firewall = self.host.firewall
        if firewall is not None and not firewall.available():
            log.warning("iptables is not available: published ports use the userland "
                        "proxy, and containers reach no network beyond their bridges")
            self.host = replace(self.host, firewall=None)
            firewall = None
        for doc in self._records.networks():
            n = network_from_json(doc)
            self._networks[n.id] = n
        self._ensure_predefined()
        netns.prepare_dir(self.host.netns_dir)
        links.enable_forwarding()
        if firewall is not None:
            firewall.setup()
            if not links.enable_bridge_netfilter():
                log.warning("no br_netfilter: a container reaches another one's published "
                            "port only through the userland proxy")
        for n in self._networks.values():
            if n.bridge:
                self._make_bridge(n)

    def _ensure_predefined(self) -> None:
        by_name = {n.name: n for n in self._networks.values()}
        for name, driver in ((m.HOST, "host"), (m.NONE, "null")):
            if name not in by_name:
                self._insert(Network(id=secrets.token_hex(32), name=name, driver=driver,
                                     created=clock.rfc3339()))
        old = by_name.get(m.BRIDGE)
        pool = self._default_pool(old)
        options = ((BRIDGE_NAME_OPTION, self.opts.bridge),
                   ("com.docker.network.bridge.default_bridge", "true"))
        bridge = Network(id=old.id if old else secrets.token_hex(32), name=m.BRIDGE,
                         driver="bridge", created=old.created if old else clock.rfc3339(),
                         options=options, pools=(pool,), bridge=self.opts.bridge)
        if bridge != old:
            if old is not None:
                self._records.delete_network(old.id)
            self._insert(bridge)

    def _default_pool(self, old: Network | None) -> IpamPool:
        if self.opts.bridge_subnet:
            net, gw, _ = ipam.check_pool(self.opts.bridge_subnet, "", "")
            return IpamPool(str(net), str(gw))
        if old is not None and old.pools and old.bridge == self.opts.bridge:
            return old.pools[0]
        existing = links.bridge_addresses(self.opts.bridge)
        if existing:  # a bridge left by an earlier data root: its address, as docker0's
            return IpamPool(str(existing[0].network), str(existing[0].ip))
        return self._pick_pool(exclude="")

    def _pick_pool(self, exclude: str) -> IpamPool:
        taken = [*links.routes(), *(ipaddress.IPv4Network(n.pools[0].subnet)
                                    for n in self._networks.values()
                                    if n.pools and n.id != exclude)]
        subnet = ipam.pick_subnet(list(self.opts.default_address_pools), taken)
        return IpamPool(str(subnet), str(subnet.network_address + 1))

    def _insert(self, n: Network) -> None:
        self._records.insert_network(n.id, n.name, network_to_json(n))
        self._networks[n.id] = n

    def _make_bridge(self, n: Network) -> None:
        pool = n.pools[0]
        subnet = ipaddress.IPv4Network(pool.subnet)
        links.ensure_bridge(links.BridgeConfig(n.bridge, pool.gateway, subnet.prefixlen,
                                               sandbox.mtu(n)))
        if self.host.firewall is not None:
            self.host.firewall.add_network(n.id, n.bridge, pool.subnet, n.internal)

    async def close(self) -> None:
        """Stop answering DNS; nothing on the host is removed (live restore)."""
        await self.dns.close()

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

    def by_name(self, name: str) -> Network:
        return next(n for n in self._networks.values() if n.name == name)

    def user_defined(self, network_id: str) -> bool:
        n = self._networks.get(network_id)
        return n is not None and not n.predefined

    def attached(self, network_id: str) -> builtins.list[tuple[str, Endpoint]]:
        out = []
        for c in self.containers.list():
            for e in self.container_network(c).endpoints:
                if e.network_id == network_id:
                    out.append((c.id, e))
        return out

    def container_network(self, container: Container) -> ContainerNetwork:
        c = container
        endpoints = []
        for cfg in c.spec.endpoints:
            n = self._networks.get(cfg.network)
            a = self.live.get(c.id, cfg.network) if c.state.running else None
            endpoints.append(endpoint_view(cfg, n.name if n else cfg.network, a))
        ports = [PublishedPort(int(r.document), r.proto, r.host_ip, r.host_port)
                 for r in self._records.ports(c.id)] if c.state.running else []
        key = ""
        if c.state.running and self.live.of(c.id):
            key = str(self.host.netns_path(c.id))
        return ContainerNetwork(sandbox_id=c.id if key else "", sandbox_key=key,
                                endpoints=tuple(endpoints), ports=tuple(ports),
                                exposed=c.spec.exposed_ports)

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
        async with self._lock:
            if any(n.name == req.name for n in self._networks.values()):
                raise Conflict(f"network with name {req.name} already exists")
            nid = secrets.token_hex(32)
            pools = await asyncio.to_thread(self._pools, req, nid)
            options = dict(req.options)
            n = Network(id=nid, name=req.name, driver="bridge", created=clock.rfc3339(),
                        internal=req.internal, attachable=req.attachable,
                        labels=req.labels, options=req.options, pools=pools,
                        bridge=options.get(BRIDGE_NAME_OPTION) or f"br-{nid[:12]}")
            if any(o.bridge == n.bridge for o in self._networks.values()):
                raise Conflict(f"bridge name {n.bridge} is in use by another network")
            await asyncio.to_thread(self._create_sync, n)
        self.publish(n, "create")
        return n

    def _pools(self, req: NetworkCreate, nid: str) -> tuple[IpamPool, ...]:
        if not req.pools:
            return (self._pick_pool(exclude=nid),)
        out = []
        for p in req.pools:
            net, gw, range_ = ipam.check_pool(p.subnet, p.gateway, p.ip_range)
            for other in self._networks.values():
                if other.pools and ipam.overlaps(
                        net, ipaddress.IPv4Network(other.pools[0].subnet)):
                    raise Forbidden("Pool overlaps with other one on this address space")
            out.append(IpamPool(str(net), str(gw), str(range_) if range_ else ""))
        return tuple(out[:1])

    def _create_sync(self, n: Network) -> None:
        try:
            self._make_bridge(n)
            self._insert(n)
        except BaseException:
            self._remove_sync(n)
            raise

    def _remove_sync(self, n: Network) -> None:
        if self.host.firewall is not None:
            sandbox.quietly(self.host.firewall.remove_network, n.id)
        sandbox.quietly(links.remove_bridge, n.bridge)
        self._records.delete_network(n.id)
        self._networks.pop(n.id, None)

    async def remove(self, ref: str) -> None:
        n = self.get(ref)
        if n.predefined:
            raise Forbidden(f"{n.name} is a pre-defined network and cannot be removed")
        async with self._lock:
            if self.live.on(n.id):
                raise Conflict(f"error while removing network: network {n.name} id {n.id} "
                               "has active endpoints")
            await asyncio.to_thread(self._remove_sync, n)
        self.publish(n, "destroy")

    async def prune(self, labels: builtins.list[str], until: float | None
                    ) -> NetworkPruneReport:
        deleted = []
        for n in self.list():
            if n.predefined or self.live.on(n.id) or not _label_match(n, labels):
                continue
            if until is not None and clock.parse(n.created) >= until:
                continue
            try:
                await self.remove(n.id)
            except (Conflict, NotFound):
                continue
            deleted.append(n.name)
        return NetworkPruneReport(tuple(deleted))

    # ── connect, disconnect ──────────────────────────────────────────────────────────

    async def connect(self, ref: str, container: str, config: EndpointConfig) -> None:
        n = self.get(ref)
        c = self.containers.get(container)
        _refuse_connect(c, n)
        config = replace(config, network=n.id)

        async def change(cur: Container) -> tuple[EndpointConfig, ...]:
            if any(e.network == n.id for e in cur.spec.endpoints):
                raise Forbidden(f"endpoint with name {cur.name} already exists in network "
                                f"{n.name}")
            if cur.state.running:
                await self.attach_running(cur, n, config)
            return (*cur.spec.endpoints, config)

        await self.containers.change_endpoints(c.id, change)

    async def disconnect(self, ref: str, container: str, force: bool = False) -> None:
        n = self.get(ref)
        c = self.containers.get(container)
        if n.name == m.HOST or c.spec.network_mode == m.HOST:
            raise Forbidden("container cannot be disconnected from host network or "
                            "connected to host network")

        async def change(cur: Container) -> tuple[EndpointConfig, ...]:
            if not any(e.network == n.id for e in cur.spec.endpoints):
                raise BerthError(f"container {cur.id} is not connected to network "
                                 f"{n.name}")
            a = self.live.get(cur.id, n.id)
            if a is not None:
                await asyncio.to_thread(sandbox.leave_network, self.host, cur.id, a)
                self.live.drop(cur.id, n.id)
                self.publish(n, "disconnect", container=cur.id)
            return tuple(e for e in cur.spec.endpoints if e.network != n.id)

        await self.containers.change_endpoints(c.id, change)

    async def attach_running(self, c: Container, n: Network, cfg: EndpointConfig) -> None:
        """A running container joins ``n`` at once: the next free ethN."""
        taken = {a.ifname for a in self.live.of(c.id)}
        ifname = next(f"eth{i}" for i in range(len(taken) + 1) if f"eth{i}" not in taken)
        join = self.join_for(c, n, cfg, ifname, default_route=False)
        a = await asyncio.to_thread(sandbox.join_network, self.host, c.id, join)
        self.live.put(a, c.name)
        self.publish(n, "connect", container=c.id)
        if n.predefined is False and not self._dns_attached(c.id, exclude=n.id):
            await self.dns.attach(c.id, str(self.host.netns_path(c.id)),
                                  self.upstreams(c))

    def publish(self, n: Network, action: str, **extra: str) -> None:
        """A network event as docker's: name and type, the container of a (dis)connect;
        connect and disconnect are an endpoint made or removed (a start, a stop, a
        connect or disconnect of a running container)."""
        attrs = {**extra, "name": n.name, "type": n.driver}
        self._events.publish(Event("network", action, n.id, tuple(attrs.items())))

    def _dns_attached(self, cid: str, exclude: str) -> bool:
        return any(self.user_defined(a.network_id) for a in self.live.of(cid)
                   if a.network_id != exclude)

    def upstreams(self, c: Container) -> builtins.list[str]:
        return etcfiles.upstreams(etcfiles.HostResolv.read(),
                                  etcfiles.DnsConfig(c.spec.dns or self.opts.dns))

    def join_for(self, c: Container, n: Network, cfg: EndpointConfig, ifname: str,
                 default_route: bool) -> sandbox.Join:
        names: tuple[str, ...] = ()
        if not n.predefined:
            names = tuple(dict.fromkeys((c.name, *cfg.aliases, c.id[:12])))
        mac = c.spec.mac_address if default_route else ""
        a = Attachment(network_id=n.id, container_id=c.id, endpoint_id=secrets.token_hex(32),
                       ifname=ifname, host_veth=self.host.veth_name(c.id, n.id), mac=mac,
                       aliases=cfg.aliases, links=cfg.links, dns_names=names)
        return sandbox.Join(n, a, cfg.ipv4_address, default_route and not n.internal)

    # ── DNS ──────────────────────────────────────────────────────────────────────────

    def _resolve(self, cid: str, name: str) -> builtins.list[str]:
        scoped = {nid for nid, n in self._networks.items() if not n.predefined}
        return self.live.resolve(cid, name, scoped)


def endpoint_view(cfg: EndpointConfig, name: str, a: Attachment | None) -> Endpoint:
    if a is None:
        return Endpoint(network_id=cfg.network, network_name=name, aliases=cfg.aliases,
                        links=cfg.links, ipam_ipv4_address=cfg.ipv4_address)
    return Endpoint(network_id=cfg.network, network_name=name, endpoint_id=a.endpoint_id,
                    aliases=cfg.aliases, links=cfg.links,
                    ipam_ipv4_address=cfg.ipv4_address, ip_address=a.address,
                    prefix_len=a.prefix_len, gateway=a.gateway, mac_address=a.mac,
                    dns_names=a.dns_names)


def _refuse_connect(c: Container, n: Network) -> None:
    mode = c.spec.network_mode
    if n.name == m.HOST or mode == m.HOST:
        raise Forbidden("container cannot be disconnected from host network or connected "
                        "to host network")
    if n.name == m.NONE or mode == m.NONE:
        raise Forbidden("container cannot be connected to multiple networks with one of "
                        "the networks in private (none) mode")
    if mode.startswith("container:"):
        raise Forbidden("container sharing network namespace with another container or "
                        "host cannot be connected to any other network")


def _label_match(n: Network, filters: Sequence[str]) -> bool:
    labels = dict(n.labels)
    for f in filters:
        negate = "!=" in f
        key, _, value = f.replace("!=", "=", 1).partition("=")
        hit = key in labels and (not value or labels[key] == value)
        if hit == negate:
            return False
    return True


def network_to_json(n: Network) -> str:
    return json.dumps(dataclasses.asdict(n))


def network_from_json(text: str) -> Network:
    d = json.loads(text)
    d["labels"] = tuple(tuple(x) for x in d["labels"])
    d["options"] = tuple(tuple(x) for x in d["options"])
    d["pools"] = tuple(IpamPool(**p) for p in d["pools"])
    return Network(**d)
