"""A container's sandbox on the host: its network namespace, one veth pair per network
and its published ports. Synchronous (netlink, sqlite, iptables): the preparer and the
service call each function below in ONE ``asyncio.to_thread`` hop.

    plumb:   netns.create ─▶ for each network: allocate the address (one transaction)
             ─▶ add_veth (host end vb<daemon><hash> on the bridge, peer ethN in the netns,
             default route via the primary network only) ─▶ reserve host ports ─▶
             firewall.publish (and/or the userland proxy)
             any step failing: unplumb, then raise
    unplumb: firewall.unpublish ─▶ proxy.stop ─▶ veths removed ─▶ netns.remove ─▶ the
             addresses and ports freed; whatever of it exists (idempotent)
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import logging
import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from berth.engine.networks import ports
from berth.engine.networks.model import Network
from berth.engine.userns import USERNS_DIR
from berth.errors import BerthError, Conflict, RuntimeFailure
from berth.net import firewall as fw
from berth.net import ipam, links, netns, proxy
from berth.store.metadata.networks import NetworkRecords, PortRequest, PortRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attachment:
    """One live endpoint: a running container's interface on one network (the
    endpoints table's document)."""

    network_id: str
    container_id: str
    endpoint_id: str
    ifname: str
    host_veth: str
    address: str = ""
    prefix_len: int = 0
    gateway: str = ""
    mac: str = ""
    aliases: tuple[str, ...] = ()
    links: tuple[tuple[str, str], ...] = ()  # (container name, alias) on this network
    dns_names: tuple[str, ...] = ()

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Attachment:
        data = json.loads(text)
        data["aliases"] = tuple(data["aliases"])
        data["dns_names"] = tuple(data["dns_names"])
        data["links"] = tuple(tuple(x) for x in data["links"])
        return cls(**data)


@dataclass(frozen=True)
class Join:
    """An endpoint to make: ``attachment`` with its address still to pick."""

    network: Network
    attachment: Attachment
    requested: str = ""  # IPAMConfig.IPv4Address
    default_route: bool = False


@dataclass(frozen=True)
class Publish:
    """The ports of a start: the host ports to reserve, the container's address they go
    to, and how (kernel rules, the userland proxy, or both)."""

    requests: Sequence[PortRequest]
    container_ip: str
    bridge: str
    kernel: bool
    userland: bool
    endpoint: str  # "NAME (ENDPOINT ID)" for docker's error text


@dataclass(frozen=True)
class Host:
    """What the sandbox functions work with, per daemon."""

    records: NetworkRecords
    firewall: fw.Firewall | None
    netns_dir: Path  # <exec-root>/netns
    proxy_dir: Path  # <exec-root>/proxy: one state dir per container with a proxy
    veth_prefix: str  # "vb" + 3 hex of the daemon's bridge name: 5 of the 15 characters

    def netns_path(self, cid: str) -> Path:
        return self.netns_dir / cid

    def veth_name(self, cid: str, network_id: str) -> str:
        digest = hashlib.sha1((cid + network_id).encode()).hexdigest()
        return self.veth_prefix + digest[:15 - len(self.veth_prefix)]


def veth_prefix(bridge: str) -> str:
    return "vb" + hashlib.sha1(bridge.encode()).hexdigest()[:3]


def plumb(host: Host, cid: str, joins: Sequence[Join], publish: Publish | None,
          make_netns: bool) -> tuple[list[Attachment], list[PortRow]]:
    """Make ``cid``'s netns (``make_netns``), endpoints and ports; on failure undo all of
    it and raise."""
    try:
        if make_netns:
            path = host.netns_path(cid)
            host.netns_dir.mkdir(parents=True, exist_ok=True)
            if path.exists():  # a run killed before its release: start clean
                netns.remove(str(path))
            owner = host.netns_dir.parent / USERNS_DIR / cid  # --userns-remap's
            netns.create(str(path), owner if owner.exists() else "")
        done = [join_network(host, cid, j) for j in joins]
        rows = []
        if publish is not None and done:
            rows = publish_ports(host, cid, dataclasses.replace(
                publish, container_ip=done[0].address))
    except BaseException:
        unplumb(host, cid, [j.attachment.host_veth for j in joins])
        raise
    return done, rows


def join_network(host: Host, cid: str, j: Join) -> Attachment:
    """Allocate an address on ``j.network`` and give the netns its interface."""
    pool = j.network.pools[0]
    subnet = ipaddress.IPv4Network(pool.subnet)

    def pick(used: set[str]) -> str:
        if j.requested:
            if j.requested in used:
                raise Conflict(f"Address already in use: {j.requested}")
            if ipaddress.IPv4Address(j.requested) not in subnet:
                raise BerthError(f"no configured subnet contains IP address {j.requested}")
            return j.requested
        range_ = ipaddress.IPv4Network(pool.ip_range) if pool.ip_range else None
        gateway = ipaddress.IPv4Address(pool.gateway) if pool.gateway else None
        used_ips = {ipaddress.IPv4Address(u) for u in used}
        return str(ipam.next_address(subnet, range_, gateway, used_ips))

    a = j.attachment
    address = host.records.allocate(j.network.id, cid, pick, a.to_json())
    mac = a.mac or links.mac_for(ipaddress.IPv4Address(address))
    a = dataclasses.replace(a, address=address, prefix_len=subnet.prefixlen,
                            gateway=pool.gateway, mac=mac)
    try:
        links.add_veth(links.VethConfig(
            host_name=a.host_veth, bridge=j.network.bridge,
            netns=str(host.netns_path(cid)), ifname=a.ifname, address=address,
            prefix_len=subnet.prefixlen,
            gateway=pool.gateway if j.default_route else "", mac=mac,
            mtu=mtu(j.network)))
        host.records.update_endpoint(j.network.id, cid, a.to_json())
    except BaseException:
        host.records.free_endpoint(j.network.id, cid)
        raise
    return a


def leave_network(host: Host, cid: str, a: Attachment) -> None:
    quietly(links.remove_veth, a.host_veth)
    host.records.free_endpoint(a.network_id, cid)


def publish_ports(host: Host, cid: str, p: Publish) -> list[PortRow]:
    def free(proto: str, ip: str, port: int) -> bool:
        return ports.is_free(proto, ip, port)

    try:
        rows = host.records.reserve_ports(cid, p.requests, free)
        for row in rows:  # a port fixed by the request is checked here
            if any(r.host_port == row.host_port and not r.candidates for r in p.requests):
                err = ports.bind_error(row.proto, row.host_ip, row.host_port)
                if err is not None:
                    raise RuntimeFailure(ports.in_use_message(row.proto, row.host_ip,
                                                              row.host_port, err))
        rules = [fw.PortRule(r.proto, r.host_ip, r.host_port, p.container_ip,
                             int(r.document)) for r in rows]
        if p.kernel and rules:
            assert host.firewall is not None
            host.firewall.publish(cid, p.bridge, rules)
        if p.userland and rules:
            proxy.start(host.proxy_dir / cid, [
                proxy.ProxyPort(r.proto, r.host_ip, r.host_port, p.container_ip,
                                int(r.document)) for r in rows])
    except Conflict as err:
        raise RuntimeFailure(f"driver failed programming external connectivity on "
                             f"endpoint {p.endpoint}: {err.message}") from err
    except RuntimeFailure as err:
        if err.message.startswith("driver failed"):
            raise
        raise RuntimeFailure(f"driver failed programming external connectivity on "
                             f"endpoint {p.endpoint}: {err.message}") from err
    return rows


def unplumb(host: Host, cid: str, veths: Sequence[str] = ()) -> None:
    """Release everything of ``cid`` that exists; never raises for what is missing."""
    had_ports = bool(host.records.ports(cid))
    if had_ports and host.firewall is not None:
        quietly(host.firewall.unpublish, cid)
    proxy_dir = host.proxy_dir / cid
    if proxy_dir.exists():
        quietly(proxy.stop, proxy_dir)
        shutil.rmtree(proxy_dir, ignore_errors=True)
    rows = host.records.endpoints(cid)
    names = {Attachment.from_json(r.document).host_veth for r in rows} | set(veths)
    for name in names:
        quietly(links.remove_veth, name)
    path = host.netns_path(cid)
    if os.path.lexists(path):
        quietly(netns.remove, str(path))
    host.records.free_ports(cid)
    for r in rows:
        host.records.free_endpoint(r.network_id, cid)


def mtu(n: Network) -> int:
    mtu = dict(n.options).get("com.docker.network.driver.mtu", "")
    return int(mtu) if mtu.isdigit() else 1500


def quietly(fn: object, *args: object) -> None:
    """Release steps go on past one that fails: the rest must still be undone."""
    try:
        fn(*args)  # type: ignore[operator]
    except (OSError, BerthError) as err:
        log.warning("network release step %s%r failed: %s",
                    getattr(fn, "__name__", fn), args, err)
