"""The network preparer: a container's network at create (``check``), before each run
(``prepare``) and after it (``release``), per its network mode (networking.md's table).

    check    mode → endpoints (network ids, the primary first; host/none: that network
             alone), links and container:<x> exist, ports/DNS/hosts well formed, the
             image's exposed ports merged in
    prepare  bridge/user: sandbox.plumb (one thread hop) ─▶ DNS sockets (user networks)
             ─▶ /etc files ─▶ the running containers linking here get their hosts file
             rewritten ─▶ spec options: netns path, /etc binds, link variables
             none: /etc files only; host: the host's files, no netns of its own;
             container:<x>: x's netns and files
    release  DNS detach ─▶ sandbox.unplumb (idempotent)
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from berth.engine.containers import process
from berth.engine.containers.model import Container, ContainerSpec, EndpointConfig
from berth.engine.images.service import ImageService
from berth.engine.networks import etcfiles, legacylinks, ports, sandbox
from berth.engine.networks import model as m
from berth.engine.networks.etcfiles import DnsConfig, HostResolv, HostsEntry
from berth.engine.networks.service import NetworkService
from berth.errors import BerthError, Conflict, InvalidArgument, NotFound, RuntimeFailure
from berth.oci import spec as oci
from berth.runtime import spec as runtime_spec
from berth.runtime.spec import SpecOpt

log = logging.getLogger(__name__)

CONTAINER_MODE = "container:"


class NetworkPreparer:
    def __init__(self, networks: NetworkService, images: ImageService) -> None:
        self._net = networks
        self._images = images

    # ── check ────────────────────────────────────────────────────────────────────────

    async def check(self, spec: ContainerSpec) -> ContainerSpec:
        spec = await self._with_image_ports(spec)
        try:
            return check_spec(self._net, spec)
        except NotFound as err:
            # a 404 from create makes docker's CLI pull the image (moby#39823): a missing
            # network, link or container:<x> is a bad parameter
            raise InvalidArgument(err.message) from err

    async def _with_image_ports(self, spec: ContainerSpec) -> ContainerSpec:
        image = await self._images.get(spec.image)
        exposed = (image.config.get("config", {}).get("ExposedPorts") or {})
        merged = [*spec.exposed_ports, *exposed,
                  *(f"{b.container_port}/{b.proto}" for b in spec.port_bindings)]
        normal = [f"{p}/{proto}" for p, proto in map(ports.parse_exposed, merged)]
        return replace(spec, exposed_ports=tuple(dict.fromkeys(normal)))

    # ── prepare ──────────────────────────────────────────────────────────────────────

    async def prepare(self, container: Container) -> Sequence[SpecOpt]:
        c = container
        mode = c.spec.network_mode
        data_dir = self._net.opts.data_root / "containers" / c.id
        if mode == m.HOST:
            binds = await asyncio.to_thread(_host_files, data_dir)
            return [_without_netns, runtime_spec.with_hostname(socket.gethostname()),
                    runtime_spec.with_bind_files(binds)]
        if mode.startswith(CONTAINER_MODE):
            return self._joined(mode.removeprefix(CONTAINER_MODE))
        if mode == m.NONE or not c.spec.endpoints or c.spec.endpoints[0].network in (
                self._net.by_name(m.NONE).id, self._net.by_name(m.HOST).id):
            files = self._etc_files(c, [], [])
            binds = await asyncio.to_thread(etcfiles.write, data_dir, files)
            return [runtime_spec.with_bind_files(binds)]
        return await self._bridged(c, data_dir)

    async def _bridged(self, c: Container, data_dir: Path) -> list[SpecOpt]:
        net = self._net
        joins = []
        for i, cfg in enumerate(c.spec.endpoints):
            joins.append(net.join_for(c, net.get(cfg.network), cfg, f"eth{i}", i == 0))
        publish = self._publish(c, joins[0]) if (
            c.spec.port_bindings or c.spec.publish_all_ports) else None
        legacy = self._legacy_links(c)
        attachments, _ = await asyncio.to_thread(
            sandbox.plumb, net.host, c.id, joins, publish, True)
        for a in attachments:
            net.live.put(a, c.name)
            net.publish(net.get(a.network_id), "connect", container=c.id)
        try:
            own = [HostsEntry(a.address, etcfiles.own_names(c.hostname, c.spec.domainname))
                   for a in attachments[:1]]
            files = self._etc_files(c, own, [legacylinks.hosts_entry(alias, lc)
                                             for alias, lc in legacy],
                                    embedded=any(net.user_defined(a.network_id)
                                                 for a in attachments))
            binds = await asyncio.to_thread(self._write_files, c, data_dir, files)
            if any(net.user_defined(a.network_id) for a in attachments):
                await net.dns.attach(c.id, str(net.host.netns_path(c.id)),
                                     net.upstreams(c))
        except BaseException:
            await self.release(c)
            raise
        env = [v for alias, lc in legacy for v in legacylinks.link_env(c.name, alias, lc)]
        return [_with_netns(str(net.host.netns_path(c.id))),
                runtime_spec.with_bind_files(binds), _with_env(env)]

    def _write_files(self, c: Container, data_dir: Path, files: dict[str, str]
                     ) -> list[tuple[str, str]]:
        binds = etcfiles.write(data_dir, files)
        self._refresh_linkers(c)
        return binds

    def _publish(self, c: Container, primary: sandbox.Join) -> sandbox.Publish:
        opts = self._net.opts
        reqs = ports.requests(c.spec.port_bindings, c.spec.publish_all_ports,
                              c.spec.exposed_ports, opts.default_bind_address,
                              ports.ephemeral_range())
        kernel = self._net.host.firewall is not None
        return sandbox.Publish(reqs, "", primary.network.bridge, kernel,
                               opts.userland_proxy or not kernel,
                               f"{c.name} ({primary.attachment.endpoint_id})")

    def _etc_files(self, c: Container, own: list[HostsEntry], links: list[HostsEntry],
                   embedded: bool = False) -> dict[str, str]:
        gateway = self._net.by_name(m.BRIDGE).pools[0].gateway
        extra = [_extra_host(h, gateway) for h in c.spec.extra_hosts]
        dns = DnsConfig(c.spec.dns or self._net.opts.dns, c.spec.dns_search,
                        c.spec.dns_options)
        return {"hostname": c.hostname + "\n",
                "hosts": etcfiles.hosts(own, links, extra),
                "resolv.conf": etcfiles.resolv_conf(HostResolv.read(), dns, embedded)}

    def _legacy_links(self, c: Container, starting: str = ""
                      ) -> list[tuple[str, legacylinks.LinkedContainer]]:
        """The containers ``c`` links to on the default bridge, which must run (or be
        ``starting``: its endpoint is up, its state not yet)."""
        bridge = self._net.by_name(m.BRIDGE).id
        out = []
        for name, alias in c.spec.links:
            try:
                target = self._net.containers.get(name)
            except NotFound as err:
                raise NotFound(f"could not get container for {name}") from err
            a = self._net.live.get(target.id, bridge)
            if a is None or not (target.state.running or target.id == starting):
                raise RuntimeFailure(f"Cannot link to a non running container: "
                                     f"/{target.name} AS /{c.name}/{alias}")
            out.append((alias, legacylinks.LinkedContainer(
                target.name, target.hostname, a.address, target.spec.exposed_ports,
                process.config_env(target))))
        return out

    def _refresh_linkers(self, target: Container) -> None:
        """Rewrite in place the hosts file of each running container linking to
        ``target`` (its address changed with this run). In a thread."""
        for c in self._net.containers.list():
            if c.id == target.id or not c.state.running or not any(
                    self._net.containers.get(n).id == target.id for n, _ in c.spec.links
                    if _exists(self._net, n)):
                continue
            try:
                own = [HostsEntry(a.address, etcfiles.own_names(c.hostname,
                                                                c.spec.domainname))
                       for a in self._net.live.of(c.id)[:1]]
                links = [legacylinks.hosts_entry(alias, lc)
                         for alias, lc in self._legacy_links(c, starting=target.id)]
                path = self._net.opts.data_root / "containers" / c.id / "hosts"
                gateway = self._net.by_name(m.BRIDGE).pools[0].gateway
                extra = [_extra_host(h, gateway) for h in c.spec.extra_hosts]
                etcfiles.rewrite_in_place(path, etcfiles.hosts(own, links, extra))
            except (BerthError, OSError) as err:
                log.warning("container %s: updating its links' hosts failed: %s",
                            c.id[:12], err)

    def _joined(self, ref: str) -> list[SpecOpt]:
        target = self._net.containers.get(ref)
        if not target.state.running:
            raise Conflict(f"cannot join network namespace of a non running container: "
                           f"container {target.name} is {target.state.status.value}")
        files = etcfiles.binds_of(self._net.opts.data_root / "containers" / target.id)
        if target.spec.network_mode == m.HOST:
            return [_without_netns, runtime_spec.with_bind_files(files)]
        path = self._net.host.netns_path(target.id)
        if not self._net.live.of(target.id):
            path = Path(f"/proc/{target.state.pid}/ns/net")
        return [_with_netns(str(path)), runtime_spec.with_hostname(target.hostname),
                runtime_spec.with_bind_files(files)]

    # ── release ──────────────────────────────────────────────────────────────────────

    async def release(self, container: Container) -> None:
        c = container
        net = self._net
        if any(net.user_defined(a.network_id) for a in net.live.of(c.id)):
            try:
                await net.dns.detach(c.id)
            except (BerthError, OSError) as err:
                log.warning("container %s: DNS detach failed: %s", c.id[:12], err)
        veths = [net.host.veth_name(c.id, e.network) for e in c.spec.endpoints]
        live = net.live.of(c.id)
        await asyncio.to_thread(sandbox.unplumb, net.host, c.id, veths)
        net.live.drop(c.id)
        for a in live:
            with contextlib.suppress(NotFound):  # a network removed meanwhile
                net.publish(net.get(a.network_id), "disconnect", container=c.id)


    async def removed(self, container: Container, volumes: bool) -> None:
        """Nothing: release already let go of everything networking had."""


# ── check, pure ──────────────────────────────────────────────────────────────────────


def check_spec(net: NetworkService, spec: ContainerSpec) -> ContainerSpec:
    """Refuse what docker refuses at create; resolve network names to ids."""
    ports.validate(spec.port_bindings)
    for ip in spec.dns:
        _ip(ip, f"{ip} is not an ip address")
    for h in spec.extra_hosts:
        _extra_host(h, "0.0.0.0")
    mode = "none" if spec.network_disabled else (spec.network_mode or "default")
    if mode.startswith(CONTAINER_MODE):
        return _check_container_mode(net, spec, mode)
    if mode in (m.HOST, m.NONE):
        if spec.links:
            raise InvalidArgument(f"conflicting options: {mode} type networking can't be "
                                  "used with links. This would result in undefined "
                                  "behavior")
        extra = [e for e in spec.endpoints if net.get(e.network).name != mode]
        if extra:
            raise InvalidArgument(f"container cannot be connected to network endpoints: "
                                  f"{mode}, {', '.join(e.network for e in extra)}")
        return replace(spec, network_mode=mode,
                       endpoints=(EndpointConfig(net.by_name(mode).id),))
    primary = net.get(m.BRIDGE if mode in ("default", m.BRIDGE) else mode)
    for name, _ in spec.links:
        if not _exists(net, name):
            raise NotFound(f"could not get container for {name}")
    endpoints: dict[str, EndpointConfig] = {primary.id: EndpointConfig(primary.id)}
    for e in spec.endpoints:
        n = net.get(e.network)
        if n.name in (m.HOST, m.NONE):
            raise InvalidArgument(f"container cannot be connected to network endpoints: "
                                  f"{mode}, {n.name}")
        if n.name == m.BRIDGE and e.aliases:
            raise InvalidArgument("network-scoped alias is supported only for containers "
                                  "in user defined networks")
        endpoints[n.id] = replace(e, network=n.id)
    if not primary.predefined and spec.links:
        # on user-defined networks a --link is an alias for the linking container only
        first = endpoints[primary.id]
        endpoints[primary.id] = replace(first, links=(*first.links, *spec.links))
        spec = replace(spec, links=())
    return replace(spec, network_mode=mode, endpoints=tuple(endpoints.values()))


def _check_container_mode(net: NetworkService, spec: ContainerSpec, mode: str
                          ) -> ContainerSpec:
    ref = mode.removeprefix(CONTAINER_MODE)
    try:
        target = net.containers.get(ref)
    except NotFound as err:
        raise NotFound(f"joining network namespace of container: No such container: "
                       f"{ref}") from err
    for given, what in ((spec.port_bindings or spec.publish_all_ports,
                         "port publishing and the container type network mode"),
                        (spec.hostname, "hostname and the network mode"),
                        (spec.dns or spec.dns_search or spec.dns_options,
                         "dns and the network mode"),
                        (spec.extra_hosts, "custom host-to-IP mapping and the network mode"),
                        (spec.mac_address, "mac-address and the network mode"),
                        (spec.links, "container type network can't be used with links. "
                                     "This would result in undefined behavior")):
        if given:
            raise InvalidArgument(f"conflicting options: {what}")
    return replace(spec, network_mode=CONTAINER_MODE + target.id, endpoints=())


def _exists(net: NetworkService, ref: str) -> bool:
    try:
        net.containers.get(ref)
    except (NotFound, InvalidArgument):
        return False
    return True


def _ip(text: str, message: str) -> str:
    try:
        return str(ipaddress.ip_address(text))
    except ValueError as err:
        raise InvalidArgument(message) from err


def _extra_host(entry: str, gateway: str) -> HostsEntry:
    """``--add-host name:ip`` (``host-gateway``: the default bridge's gateway)."""
    name, sep, ip = entry.partition(":") if ":" in entry else entry.partition("=")
    if not sep or not name:
        raise InvalidArgument(f"invalid argument {entry!r} for \"--add-host\" flag")
    if ip == "host-gateway":
        ip = gateway
    return HostsEntry(_ip(ip.strip("[]"), f"invalid IP address in add-host: {ip!r}"),
                      (name,))


def _host_files(data_dir: Path) -> list[tuple[str, str]]:
    """Host mode: copies of the host's hosts and resolv.conf, its hostname."""
    files = {"hostname": socket.gethostname() + "\n"}
    for name in ("hosts", "resolv.conf"):
        try:
            files[name] = Path(f"/etc/{name}").read_text()
        except OSError:
            files[name] = etcfiles.LOCALHOST if name == "hosts" else ""
    return etcfiles.write(data_dir, files)


def _with_netns(path: str) -> SpecOpt:
    def apply(spec: oci.Spec) -> None:
        spaces = [n for n in spec["linux"]["namespaces"] if n["type"] != "network"]
        spec["linux"]["namespaces"] = [*spaces, {"type": "network", "path": path}]
    return apply


def _without_netns(spec: oci.Spec) -> None:
    spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"]
                                   if n["type"] != "network"]


def _with_env(env: Sequence[str]) -> SpecOpt:
    def apply(spec: oci.Spec) -> None:
        spec["process"]["env"] = [*spec["process"]["env"], *env]
    return apply
