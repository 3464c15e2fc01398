"""Daemon start, after the containers are restored: make the host agree with the
containers that run, whatever killed what before (a container or berthd killed -9).

    addresses, ports   rows of containers not running are freed
    netns              files under <exec-root>/netns of containers not running removed
    veths              host ends with this daemon's prefix that no running container's
                       endpoint names removed
    firewall           rules keyed by neither a network nor a running container removed;
                       a running container with ports but no rules gets them again
    proxies            state dirs of containers not running stopped and removed; a
                       running container's proxy that died started again
    live endpoints     rebuilt from the table; DNS sockets again for user networks

Nothing is removed when berthd stops: published ports keep working while it is down.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil

from berth.engine.containers.model import Container
from berth.engine.networks import sandbox
from berth.engine.networks.sandbox import Attachment, Host
from berth.engine.networks.service import NetworkService
from berth.net import firewall as fw
from berth.net import links, netns, proxy

log = logging.getLogger(__name__)


async def reconcile(net: NetworkService) -> None:
    running = {c.id: c for c in net.containers.list() if c.state.running}
    attachments = await asyncio.to_thread(_reconcile_sync, net.host, running,
                                          {n.id: n.bridge for n in net.list()},
                                          net.opts.userland_proxy)
    for a in attachments:
        net.live.put(a, running[a.container_id].name)
    for cid, c in running.items():
        if any(net.user_defined(a.network_id) for a in net.live.of(cid)):
            try:
                await net.dns.attach(cid, str(net.host.netns_path(cid)), net.upstreams(c))
            except OSError as err:
                log.warning("container %s: DNS not restored: %s", cid[:12], err)


def _reconcile_sync(host: Host, running: dict[str, Container], bridges: dict[str, str],
                    userland: bool) -> list[Attachment]:
    freed = host.records.keep_only(running)
    if freed:
        log.info("freed %d addresses and ports of containers that are not running", freed)
    rows = [r for r in host.records.endpoints() if r.network_id in bridges]
    attachments = [Attachment.from_json(r.document) for r in rows]
    _sweep_netns(host, set(running))
    keep_veths = {a.host_veth for a in attachments}
    for name in links.host_veths(host.veth_prefix):
        if name not in keep_veths:
            log.info("removing veth %s of no running container", name)
            sandbox.quietly(links.remove_veth, name)
    _sweep_proxies(host, set(running))
    primary: dict[str, Attachment] = {}
    for a in attachments:
        if a.ifname == "eth0":
            primary[a.container_id] = a
    if host.firewall is not None:
        _reconcile_rules(host, host.firewall, set(running), bridges, primary)
    for cid in running:
        rows_ = host.records.ports(cid)
        if rows_ and (userland or host.firewall is None) and cid in primary:
            state = host.proxy_dir / cid
            if not proxy.running(state):
                sandbox.quietly(proxy.start, state, [
                    proxy.ProxyPort(r.proto, r.host_ip, r.host_port,
                                    primary[cid].address, int(r.document)) for r in rows_])
    return attachments


def _sweep_netns(host: Host, running: set[str]) -> None:
    try:
        names = os.listdir(host.netns_dir)
    except FileNotFoundError:
        return
    for name in names:
        if name not in running:
            log.info("removing the network namespace of container %s", name[:12])
            sandbox.quietly(netns.remove, str(host.netns_dir / name))


def _sweep_proxies(host: Host, running: set[str]) -> None:
    try:
        names = os.listdir(host.proxy_dir)
    except FileNotFoundError:
        return
    for name in names:
        if name not in running:
            sandbox.quietly(proxy.stop, host.proxy_dir / name)
            shutil.rmtree(host.proxy_dir / name, ignore_errors=True)


def _reconcile_rules(host: Host, firewall: fw.Firewall, running: set[str],
                     bridges: dict[str, str], primary: dict[str, Attachment]) -> None:
    keys = firewall.keys()
    for key in keys - running - set(bridges):
        log.info("removing firewall rules of %s", key[:12])
        sandbox.quietly(firewall.unpublish, key)
        sandbox.quietly(firewall.remove_network, key)
    for cid in running - keys:
        rows = host.records.ports(cid)
        a = primary.get(cid)
        if rows and a is not None:
            sandbox.quietly(firewall.publish, cid, bridges[a.network_id], [
                fw.PortRule(r.proto, r.host_ip, r.host_port, a.address, int(r.document))
                for r in rows])

