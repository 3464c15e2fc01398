"""Routes of ``/networks``: moby's network router, calling a NetworkBackend.

    GET    /networks                 list (filters: name, id, label, driver, type, scope,
                                     dangling); each network's Containers is {}
    GET    /networks/{id}            inspect (verbose and scope accepted)
    POST   /networks/create          201 {"Id", "Warning": ""}
    DELETE /networks/{id}            204
    POST   /networks/{id}/connect    200 (EndpointConfig: Aliases, IPAMConfig, Links)
    POST   /networks/{id}/disconnect 200
    POST   /networks/prune           {"NetworksDeleted": [names] | null}

docker-py and docker-compose v1 read the JSON, so its shape is docker's to the key.
"""

from __future__ import annotations

import builtins
import contextlib
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web

from berth.api.server import params
from berth.api.server.app import Router, json_response
from berth.api.server.backend import ContainerBackend, NetworkBackend
from berth.api.server.container_network import endpoint_config
from berth.api.types import containers as ctypes
from berth.api.types import responses as wire
from berth.api.types.decode import unsupported
from berth.api.types.networks import (
    IPAM,
    NetworkConnectRequest,
    NetworkCreateRequest,
    NetworkDisconnectRequest,
)
from berth.engine.containers.admin import parse_until
from berth.engine.containers.model import EndpointConfig
from berth.engine.networks.model import Endpoint, IpamPool, Network, NetworkCreate
from berth.errors import InvalidArgument, NotFound

# Scope and EnableIPv6 pass only at their defaults (below); IPAM is checked on its own.
_HONOURED_CREATE = frozenset({"Name", "CheckDuplicate", "Driver", "IPAM", "Internal",
                              "Attachable", "Options", "Labels"})
_CREATE_DEFAULTS: dict[str, tuple[object, ...]] = {"Scope": ("local",),
                                                  "EnableIPv6": (False,)}
_LIST_FILTERS = frozenset({"name", "id", "label", "driver", "type", "scope", "dangling"})
_TRUE, _FALSE = ("true", "1"), ("false", "0")


@dataclass(frozen=True)
class NetworkRoutes:
    networks: NetworkBackend
    containers: ContainerBackend  # the names in a network's Containers

    def register(self, r: Router) -> None:
        r.add("GET", "/networks", self.list)
        r.add("POST", "/networks/create", self.create)
        r.add("POST", "/networks/prune", self.prune)
        r.add("GET", "/networks/{id}", self.inspect)
        r.add("DELETE", "/networks/{id}", self.remove)
        r.add("POST", "/networks/{id}/connect", self.connect)
        r.add("POST", "/networks/{id}/disconnect", self.disconnect)

    async def list(self, request: web.Request) -> web.Response:
        filters = params.filters(request)
        unknown = set(filters) - _LIST_FILTERS
        if unknown:
            raise InvalidArgument(f"invalid filter '{sorted(unknown)[0]}'")
        out = [network_json(n, {}) for n in self.networks.list()
               if self._matches(n, filters)]
        return json_response(out)

    def _matches(self, n: Network, filters: dict[str, builtins.list[str]]) -> bool:
        checks: dict[str, Callable[[str], bool]] = {
            "name": lambda v: v in n.name,
            "id": lambda v: n.id.startswith(v),
            "label": lambda v: _label_match(n, v),
            "driver": lambda v: n.driver == v,
            "type": lambda v: _type_match(n, v),
            "scope": lambda v: n.scope == v,
            "dangling": lambda v: self._dangling(n, v),
        }
        # docker: every label must match, any one of the other values
        return all((all if key == "label" else any)(checks[key](v) for v in values)
                   for key, values in filters.items())

    def _dangling(self, n: Network, value: str) -> bool:
        if value.lower() not in (*_TRUE, *_FALSE):
            raise InvalidArgument(f"invalid filter 'dangling={value}'")
        dangling = not n.predefined and not self.networks.attached(n.id)
        return dangling == (value.lower() in _TRUE)

    async def inspect(self, request: web.Request) -> web.Response:
        ref = request.match_info["id"]
        n = self.networks.get(ref)
        scope = request.query.get("scope", "")
        if scope and scope != n.scope:
            raise NotFound(f"network {ref} not found")
        return json_response(network_json(n, self._containers(n)))

    def _containers(self, n: Network) -> dict[str, wire.NetworkContainer]:
        """The endpoints that exist: those of running containers."""
        out: dict[str, wire.NetworkContainer] = {}
        for cid, e in self.networks.attached(n.id):
            if e.endpoint_id:
                with contextlib.suppress(NotFound):  # removed since: its endpoint too
                    out[cid] = _network_container(self.containers.get(cid).name, e)
        return out

    async def create(self, request: web.Request) -> web.Response:
        n = await self.networks.create(create_request(
            await params.body(request, NetworkCreateRequest)))
        created: wire.NetworkCreateResponse = {"Id": n.id, "Warning": ""}
        return json_response(created, status=201)

    async def remove(self, request: web.Request) -> web.Response:
        await self.networks.remove(request.match_info["id"])
        return web.Response(status=204)

    async def connect(self, request: web.Request) -> web.Response:
        ref = request.match_info["id"]
        body = await params.body(request, NetworkConnectRequest)
        settings = body.EndpointConfig or ctypes.EndpointSettings()
        if settings.MacAddress:
            raise InvalidArgument("berth does not support EndpointConfig.MacAddress yet")
        cfg: EndpointConfig = endpoint_config(ref, settings, "EndpointConfig.")
        await self.networks.connect(ref, body.Container, cfg)
        return web.Response(status=200)

    async def disconnect(self, request: web.Request) -> web.Response:
        body = await params.body(request, NetworkDisconnectRequest)
        await self.networks.disconnect(request.match_info["id"], body.Container, body.Force)
        return web.Response(status=200)

    async def prune(self, request: web.Request) -> web.Response:
        filters = params.filters(request)
        unknown = set(filters) - {"until", "label", "label!"}
        if unknown:
            raise InvalidArgument(f"invalid filter '{sorted(unknown)[0]}'")
        until = [parse_until(v) for v in filters.get("until", [])]
        # the backend reads "k", "k=v" and negated "k!=", "k!=v" (label!)
        labels = [*filters.get("label", []),
                  *(f"{k}!={v}" for k, _, v in
                    (x.partition("=") for x in filters.get("label!", [])))]
        report = await self.networks.prune(labels, min(until) if until else None)
        doc: wire.NetworkPruneResponse = {"NetworksDeleted": list(report.deleted) or None}
        return json_response(doc)


def create_request(body: NetworkCreateRequest) -> NetworkCreate:
    """The create body as the engine's request; 400 naming what berth does not do."""
    ipam = body.IPAM or IPAM()
    refused = (unsupported(body, _HONOURED_CREATE, _CREATE_DEFAULTS)
               or unsupported(ipam, frozenset({"Config"}),
                              {"Driver": ("default",)}, "IPAM."))
    for i, pool in enumerate(ipam.Config or ()):
        refused = refused or unsupported(pool, frozenset({"Subnet", "IPRange", "Gateway"}),
                                         prefix=f"IPAM.Config[{i}].")
    if refused is not None:
        raise InvalidArgument(f"berth does not support {refused} yet")
    pools = tuple(IpamPool(p.Subnet, p.Gateway, p.IPRange) for p in ipam.Config or ())
    if len(pools) > 1:
        raise InvalidArgument("berth does not support more than one IPAM pool per network "
                              "yet")
    for p in pools:
        if ":" in p.subnet + p.gateway + p.ip_range:
            raise InvalidArgument("berth has no IPv6 networks: an IPv6 subnet, range or "
                                  "gateway is not supported")
        if not p.subnet and (p.gateway or p.ip_range):
            raise InvalidArgument("ipam config: subnet is required to set a gateway or "
                                  "an ip range")
    return NetworkCreate(
        name=body.Name, driver=body.Driver or "bridge", internal=body.Internal,
        attachable=body.Attachable, enable_ipv6=bool(body.EnableIPv6),
        labels=tuple((body.Labels or {}).items()),
        options=tuple((body.Options or {}).items()), pools=pools,
        check_duplicate=True)


def network_json(n: Network, containers: dict[str, wire.NetworkContainer]
                 ) -> wire.NetworkInspect:
    configs: list[wire.NetworkIPAMConfig] = []
    for p in n.pools:
        cfg: wire.NetworkIPAMConfig = {"Subnet": p.subnet}
        if p.ip_range:
            cfg["IPRange"] = p.ip_range
        if p.gateway:
            cfg["Gateway"] = p.gateway
        configs.append(cfg)
    return {
        "Name": n.name, "Id": n.id, "Created": n.created, "Scope": n.scope,
        "Driver": n.driver, "EnableIPv4": True, "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None if n.predefined else {},
                 "Config": configs},
        "Internal": n.internal, "Attachable": n.attachable, "Ingress": False,
        "ConfigFrom": {"Network": ""}, "ConfigOnly": False, "Containers": containers,
        "Options": dict(n.options), "Labels": dict(n.labels),
    }


def _network_container(name: str, e: Endpoint) -> wire.NetworkContainer:
    return {"Name": name, "EndpointID": e.endpoint_id, "MacAddress": e.mac_address,
            "IPv4Address": f"{e.ip_address}/{e.prefix_len}" if e.ip_address else "",
            "IPv6Address": ""}


def _label_match(n: Network, value: str) -> bool:
    key, eq, want = value.partition("=")
    labels = dict(n.labels)
    return key in labels and (not eq or labels[key] == want)


def _type_match(n: Network, value: str) -> bool:
    if value not in ("custom", "builtin"):
        raise InvalidArgument(f"invalid filter: 'type'='{value}'")
    return n.predefined == (value == "builtin")

